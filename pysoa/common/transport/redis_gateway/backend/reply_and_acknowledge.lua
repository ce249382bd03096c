-- Push a response (one element, or all its chunks contiguously) and acknowledge its request, atomically:
-- a worker killed at any point has either answered and acknowledged, or done neither, so a redelivered
-- request has never been answered. Refuses (pushing and acknowledging nothing) when the reply queue is full.
-- KEYS[1]  the reply queue
-- KEYS[2]  the worker's in-flight list
-- KEYS[3]  the service's delivery counts
-- ARGV[1]  seconds until the reply queue expires
-- ARGV[2]  reply queue capacity
-- ARGV[3]  the request's bytes, as they sit in the in-flight list
-- ARGV[4]  the SHA-1 of those bytes
-- ARGV[5..] the response elements, in order
if redis.call('LLEN', KEYS[1]) >= tonumber(ARGV[2]) then
    return redis.error_reply('queue full')
end
redis.call('RPUSH', KEYS[1], unpack(ARGV, 5))
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('LREM', KEYS[2], -1, ARGV[3])
redis.call('HDEL', KEYS[3], ARGV[4])
return 1
