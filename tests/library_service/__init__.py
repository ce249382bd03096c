"""The echo service plus a small library (books and their authors, for expansions) and a job error, for the
asyncio client tests of `test_client_async_redis`."""
