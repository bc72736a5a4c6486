"""The HTTP server: the FastAPI app factory, API routes, the agent console and request guards.
Only this package and the CLI wire the lower layers together."""
