-- Push one message (or all chunks of one message, so they stay contiguous) onto a queue, refusing
-- when the queue is at capacity, and refresh the queue's expiry; all in one atomic round trip.
-- KEYS[1]  the queue
-- ARGV[1]  seconds until the queue expires
-- ARGV[2]  queue capacity
-- ARGV[3..] the elements to push, in order
if redis.call('LLEN', KEYS[1]) >= tonumber(ARGV[2]) then
    return redis.error_reply('queue full')
end
redis.call('RPUSH', KEYS[1], unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
