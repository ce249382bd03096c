-- Move a request from a worker's in-flight list to the service's dead letters, with why, when and how often
-- it was delivered; the oldest dead letters are dropped beyond the capacity.
-- KEYS[1]  the worker's in-flight list
-- KEYS[2]  the service's delivery counts
-- KEYS[3]  the service's dead-letter list (ids, oldest first)
-- KEYS[4]  this dead letter's hash
-- ARGV[1]  the request's bytes        ARGV[2]  their SHA-1          ARGV[3]  the dead letter's id
-- ARGV[4]  the reason                 ARGV[5]  the time (Unix s)    ARGV[6]  the delivery count
-- ARGV[7]  seconds the dead letter is kept                          ARGV[8]  the list's capacity
-- ARGV[9]  the request id, as text    ARGV[10] the worker's id
redis.call('HSET', KEYS[4], 'message', ARGV[1], 'reason', ARGV[4], 'time', ARGV[5], 'deliveries', ARGV[6],
    'request_id', ARGV[9], 'worker', ARGV[10])
redis.call('EXPIRE', KEYS[4], ARGV[7])
redis.call('RPUSH', KEYS[3], ARGV[3])
redis.call('LTRIM', KEYS[3], -tonumber(ARGV[8]), -1)
redis.call('LREM', KEYS[1], -1, ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[2])
return 1
