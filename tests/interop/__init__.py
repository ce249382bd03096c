"""Interoperability with upstream PySOA 1.4.9: helpers that start upstream peers from the cached venv."""
