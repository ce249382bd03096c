-- Send an answer again after a failover (or an outage) left it in doubt, without ever answering twice: only when
-- its request is still in the worker's in-flight list on this server is the request acknowledged and the answer
-- pushed, atomically. A request that is not there was acknowledged already (its answer went through), or never
-- reached this server; then nothing is pushed.
-- KEYS[1]  the reply queue
-- KEYS[2]  the worker's in-flight list
-- KEYS[3]  the service's delivery counts
-- ARGV[1]  seconds until the reply queue expires
-- ARGV[2]  reply queue capacity
-- ARGV[3]  the request's bytes, as they sit in the in-flight list
-- ARGV[4]  the SHA-1 of those bytes
-- ARGV[5..] the response elements, in order
-- Returns 1 (answered), 0 (not held here: nothing done) or -1 (acknowledged, but the reply queue was full).
if redis.call('LREM', KEYS[2], -1, ARGV[3]) == 0 then
    return 0
end
redis.call('HDEL', KEYS[3], ARGV[4])
if redis.call('LLEN', KEYS[1]) >= tonumber(ARGV[2]) then
    return -1
end
redis.call('RPUSH', KEYS[1], unpack(ARGV, 5))
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
