"""Benchmark processes: a service and a client driver that run unchanged under upstream PySOA or ours, and raw ones.

`run.py` starts them with `PYTHONPATH=bench`; none of them imports anything from the repo but this package.
"""
