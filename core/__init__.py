"""The bottom layer every other package may import: settings, shared vocabularies, signing and
the outbox engine. It imports no web framework and nothing above it."""
