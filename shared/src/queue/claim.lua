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

-- One call takes a few thousand arguments at most (the Lua stack), so the
-- sorted-set writes go in chunks of this many members: one command per chunk
-- rather than one per id.
local CHUNK = 1000

-- args: score, member, score, member, ...
local function zadd_all(key, args)
  for i = 1, #args, 2 * CHUNK do
    redis.call('ZADD', key, unpack(args, i, math.min(i + 2 * CHUNK - 1, #args)))
  end
end

local function zrem_all(key, members)
  for i = 1, #members, CHUNK do
    redis.call('ZREM', key, unpack(members, i, math.min(i + CHUNK - 1, #members)))
  end
end

local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[4])
local promoted, gone = {}, {}
for i = 1, #due, 2 do
  local member = due[i]
  local sep = string.find(member, '|', 1, true)
  if sep then
    local priority = tonumber(string.sub(member, 1, sep - 1))
    promoted[#promoted + 1] = (9 - priority) * 1e13 + tonumber(due[i + 1])
    promoted[#promoted + 1] = string.sub(member, sep + 1)
  end
  gone[#gone + 1] = member
end
zadd_all(KEYS[1], promoted)
zrem_all(KEYS[2], gone)

local result = { '-1' }
if redis.call('EXISTS', KEYS[4]) == 1 then
  return result
end
local popped = redis.call('ZPOPMIN', KEYS[1], ARGV[2])
local leased = {}
for i = 1, #popped, 2 do
  leased[#leased + 1] = ARGV[3]
  leased[#leased + 1] = popped[i]
  result[#result + 1] = popped[i]
  result[#result + 1] = popped[i + 1]
end
zadd_all(KEYS[3], leased)

local nxt = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if #nxt > 0 then
  result[1] = nxt[2]
end
return result
