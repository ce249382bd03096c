"""A service with `async def run` actions for the concurrent worker's tests and benchmark (`concurrency` setting)."""
