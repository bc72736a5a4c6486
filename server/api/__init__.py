"""HTTP routes of the server that are not a channel: agent look-up, knowledge base, operations."""
