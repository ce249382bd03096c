-- Forget a request the worker is done with: out of its in-flight list, and its delivery count gone.
-- KEYS[1]  the worker's in-flight list
-- KEYS[2]  the service's delivery counts
-- ARGV[1]  the request's bytes, as they sit in the in-flight list
-- ARGV[2]  the SHA-1 of those bytes
local removed = redis.call('LREM', KEYS[1], -1, ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[2])
return removed
