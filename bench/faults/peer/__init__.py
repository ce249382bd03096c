"""The service that `python -m bench.faults` runs under faults: one action, `work`, that records every run."""
