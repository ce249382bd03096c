-- Put a dead letter's request back at the end of its service queue and forget the dead letter.
-- KEYS[1]  the service's dead-letter list
-- KEYS[2]  the dead letter's hash
-- KEYS[3]  the service queue
-- ARGV[1]  the dead letter's id
-- ARGV[2]  (optional) the bytes to push instead of the stored ones (the request with a new expiry)
if redis.call('EXISTS', KEYS[2]) == 0 then
    return 0
end
local message = ARGV[2] or redis.call('HGET', KEYS[2], 'message')
redis.call('RPUSH', KEYS[3], message)
redis.call('LREM', KEYS[1], 0, ARGV[1])
redis.call('DEL', KEYS[2])
return 1
