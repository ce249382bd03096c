"""The Redis Gateway transport: PySOA requests and responses as elements of Redis lists.

- `client` / `server`: the transport classes named in settings (`RedisClientTransport`, `RedisServerTransport`).
- `core`: what both share, orchestrated: options, then envelope, then backend; back-off, metrics, errors.
- `options`: the transports' keyword arguments read once into a frozen object; `settings`: their schemas.
- `envelope`: a message to and from list elements (serialize, size limit, chunks, checks, expiry); pure.
- `framing`: the bytes of one list element (protocol versions 1 to 3, headers, chunks); pure.
- `serializers`: which serializer writes a message and which reads one.
- `backend`: every Redis command, and where queues live: `standard` (hosts) or `sentinel` (masters found
  through Sentinel), chosen through `backend.registry`; Lua scripts as `.lua` files (`backend.scripts`).
- `constants`: names and defaults of the protocol; `utils`: queue names.
"""
