"""The dialogue: understand a message, decide, answer or collect a ticket, keep the session."""
