-- A worker says it is alive: its heartbeat key (with a time to live) and its name in the service's worker set.
-- KEYS[1]  the worker's heartbeat key
-- KEYS[2]  the service's set of workers that may hold in-flight requests
-- ARGV[1]  milliseconds the heartbeat lives unless refreshed
-- ARGV[2]  the worker's id
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
return 1
