import asyncio, time
from tests.test_client_async_redis import make_client, SERVICE
from pysoa.common.transport.redis_gateway.async_client import AsyncRedisClientTransport

def test_loop(start_service, redis_url):
    start_service(workers=2, **SERVICE)
    client = make_client(redis_url, receive_timeout_in_seconds=3)
    errors = []
    async def loop_calls(deadline):
        n = 0
        while time.monotonic() < deadline:
            try:
                r = await client.call_action_async('echo', 'echo', {'message': str(n)})
                assert r.body['message'] == str(n)
            except Exception as e:
                errors.append((time.monotonic(), repr(e)))
            n += 1
    async def main():
        await client.call_action_async('echo', 'echo', {'message': 'x'})
        d = time.monotonic() + 3
        await asyncio.gather(*(loop_calls(d) for _ in range(100)))
        side = AsyncRedisClientTransport.for_transport(client.handlers['echo'].transport)
        print('owners', len(side._owners), 'buffer', len(side._buffer), 'reader', side._reader, 'finished', len(side._finished))
    t = time.monotonic()
    asyncio.run(main())
    print('errors', len(errors), errors[:2], time.monotonic() - t)
