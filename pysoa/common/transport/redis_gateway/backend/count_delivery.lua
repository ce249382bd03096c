-- Count one more delivery of a request just moved to a worker's in-flight list, and keep the count hash alive.
-- KEYS[1]  the service's delivery counts (hash: SHA-1 of the request's bytes -> deliveries)
-- ARGV[1]  the SHA-1 of the request's bytes
-- ARGV[2]  seconds the count hash lives after its last change (counts of requests lost some other way go too)
local count = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('EXPIRE', KEYS[1], ARGV[2])
return count
