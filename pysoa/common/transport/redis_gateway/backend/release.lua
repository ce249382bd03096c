-- Return a live worker's own in-flight requests that it no longer serves (their answer could not be sent) to
-- the FRONT of the service queue, in order, keeping those it still serves.
-- KEYS[1]  the worker's in-flight list
-- KEYS[2]  the service queue
-- ARGV     the SHA-1s of the requests the worker still serves
local keep = {}
for _, sha in ipairs(ARGV) do
    keep[sha] = true
end
local released = 0
local elements = redis.call('LRANGE', KEYS[1], 0, -1)
for index = #elements, 1, -1 do
    local element = elements[index]
    if not keep[redis.sha1hex(element)] then
        redis.call('LREM', KEYS[1], -1, element)
        redis.call('LPUSH', KEYS[2], element)
        released = released + 1
    end
end
return released
