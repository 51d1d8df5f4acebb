-- Acquire or renew the housekeeping leader lease.
--
-- KEYS[1]  leader key: the holder's worker id, with a TTL
-- KEYS[2]  sentinel key: set after a full reconcile; its absence means Redis
--          lost its data (FLUSHALL, a restart without persistence)
-- ARGV[1]  this worker's id
-- ARGV[2]  lease length, ms
--
-- Atomically: renews the lease if this worker holds it, takes it if nobody
-- does. Returns { 2 = acquired now, 1 = renewed, 0 = held by another;
-- 1 if the sentinel exists, else 0 }.

local sentinel = redis.call('EXISTS', KEYS[2])
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return { 1, sentinel }
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return { 2, sentinel }
end
return { 0, sentinel }
