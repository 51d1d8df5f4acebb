-- Put back the waiting jobs Redis lost.
--
-- KEYS[1]  ready     sorted set of the queue
-- KEYS[2]  delayed   sorted set of the queue
-- KEYS[3]  inflight  sorted set of the queue
-- ARGV[1]  now, ms since the epoch
-- ARGV[2..] triples: job id, priority, due ms — jobs Postgres says are
--           queued or scheduled
--
-- Atomically, for each job: if it is in neither the ready nor the delayed
-- set, nor in-flight with a lease deadline still ahead, add it (ready when
-- due, else delayed). An in-flight entry past its deadline is dropped: the
-- worker that claimed it never started it. Returns how many were added.

local now = tonumber(ARGV[1])
local added = 0
for i = 2, #ARGV, 3 do
  local id = ARGV[i]
  local priority = tonumber(ARGV[i + 1])
  local due = tonumber(ARGV[i + 2])
  local member = priority .. '|' .. id
  local present = redis.call('ZSCORE', KEYS[1], id) or redis.call('ZSCORE', KEYS[2], member)
  if not present then
    local deadline = redis.call('ZSCORE', KEYS[3], id)
    if deadline and tonumber(deadline) > now then
      present = true
    elseif deadline then
      redis.call('ZREM', KEYS[3], id)
    end
  end
  if not present then
    if due <= now then
      redis.call('ZADD', KEYS[1], (9 - priority) * 1e13 + due, id)
    else
      redis.call('ZADD', KEYS[2], due, member)
    end
    added = added + 1
  end
end
return added
