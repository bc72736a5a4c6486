"""The assistant: dialogue decisions, session context, answers, and the CLI."""
