"""Benchmarks of pysoa against the bare Redis round trip and upstream PySOA 1.4.9 (see README.md)."""
