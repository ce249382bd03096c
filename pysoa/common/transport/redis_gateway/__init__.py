"""The Redis Gateway transport: PySOA requests and responses as elements of Redis lists.

- `client` / `server`: the transport classes named in settings (`RedisClientTransport`, `RedisServerTransport`).
- `core`: what both share: serialization, framing, size limits, chunking, expiry, queue-full back-off, errors.
- `framing`: the bytes of one list element (protocol versions 1 to 3, headers, chunks).
- `backend`: where queues live: `standard` (hosts) or `sentinel` (masters found through Sentinel).
- `send.lua`: the one-round-trip send (capacity check, RPUSH, EXPIRE).
- `settings`: the Conformity schemas of the transports' keyword arguments; `constants`: names and defaults.
"""
