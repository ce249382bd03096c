"""Runnable examples: the echo service, a client for it, and the one-command demo (`python -m examples.demo`)."""
