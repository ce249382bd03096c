"""Service and client code that runs unchanged under upstream PySOA 1.4.9 or under ours.

Only public names that both implementations share are used here, so the same module can be started
with either interpreter (our venv's or the cached upstream venv's): that is the drop-in promise itself.
"""
