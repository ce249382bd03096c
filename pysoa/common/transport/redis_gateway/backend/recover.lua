-- Return the in-flight requests of every worker whose heartbeat lapsed to the FRONT of the service queue, in
-- the order that worker took them, and forget that worker. Key names are built here from the prefix, as the
-- set of workers is only known inside the script. On Redis Cluster the prefix carries the service's hash tag,
-- so those keys share the queue's slot.
-- KEYS[1]  the service queue
-- KEYS[2]  the service's set of workers
-- ARGV[1]  the prefix of the service's delivery keys (the queue name and '#')
-- ARGV[2]  the calling worker's id (never recovered: it is alive, it is asking)
-- Returns a flat list: worker id, number of requests returned, for each worker recovered.
local recovered = {}
for _, worker in ipairs(redis.call('SMEMBERS', KEYS[2])) do
    if worker ~= ARGV[2] and redis.call('EXISTS', ARGV[1] .. 'heartbeat:' .. worker) == 0 then
        local in_flight = ARGV[1] .. 'in-flight:' .. worker
        local count = 0
        -- The tail first, each to the head: the oldest ends up first in the queue.
        while redis.call('RPOPLPUSH', in_flight, KEYS[1]) do
            count = count + 1
        end
        redis.call('SREM', KEYS[2], worker)
        table.insert(recovered, worker)
        table.insert(recovered, count)
    end
end
return recovered
