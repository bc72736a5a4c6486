"""The `govbot` command line: a thin shell around the jobs, the assistant and the ticket desk."""
