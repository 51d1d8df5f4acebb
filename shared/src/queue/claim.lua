-- Claim up to N job ids from one queue.
--
-- KEYS[1]  ready     sorted set: job id -> (9 - priority) * 1e13 + due ms
-- KEYS[2]  delayed   sorted set: "<priority>|<job id>" -> due ms
-- KEYS[3]  inflight  sorted set: job id -> lease deadline ms
-- KEYS[4]  paused    flag: present while the queue is paused
-- ARGV[1]  now, ms since the epoch
-- ARGV[2]  N, how many ids to claim at most
-- ARGV[3]  the lease deadline to record, ms since the epoch
-- ARGV[4]  how many due delayed entries to promote at most
--
-- Atomically: moves due delayed entries to ready, pops the N best ready ids
-- (highest priority, then earliest due) and records them in-flight. A paused
-- queue gives nothing.
-- Returns { next delayed due ms or -1, id, score, id, score, ... }; the
-- scores let a caller that cannot use the ids put them back exactly.

local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[4])
for i = 1, #due, 2 do
  local member = due[i]
  local sep = string.find(member, '|', 1, true)
  if sep then
    local priority = tonumber(string.sub(member, 1, sep - 1))
    local id = string.sub(member, sep + 1)
    redis.call('ZADD', KEYS[1], (9 - priority) * 1e13 + tonumber(due[i + 1]), id)
  end
  redis.call('ZREM', KEYS[2], member)
end

local result = { '-1' }
if redis.call('EXISTS', KEYS[4]) == 1 then
  return result
end
local popped = redis.call('ZPOPMIN', KEYS[1], ARGV[2])
for i = 1, #popped, 2 do
  redis.call('ZADD', KEYS[3], ARGV[3], popped[i])
  result[#result + 1] = popped[i]
  result[#result + 1] = popped[i + 1]
end

local nxt = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if #nxt > 0 then
  result[1] = nxt[2]
end
return result
