-- `send.lua`, and the request's id recorded in its sender's sorted set of sent requests, in the same script: a
-- replica receives a script's writes together (MULTI/EXEC) or not at all, so a master promoted by a failover holds
-- the id exactly when it holds the request (`failover_resend.py`).
-- KEYS[1]  the queue
-- KEYS[2]  the sender's set of sent request ids (scored by id)
-- ARGV[1]  seconds until the queue and the set expire
-- ARGV[2]  queue capacity
-- ARGV[3]  the request id
-- ARGV[4]  ids below this one are no longer awaited by the sender and are forgotten
-- ARGV[5..] the elements to push, in order
if redis.call('LLEN', KEYS[1]) >= tonumber(ARGV[2]) then
    return redis.error_reply('queue full')
end
redis.call('RPUSH', KEYS[1], unpack(ARGV, 5))
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return 1
