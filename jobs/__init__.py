"""Work that the CLI and the server both run: import, index build, training, FAQ promotion and
the push to the external 12345 platform. Each job takes what it needs and reports progress."""
