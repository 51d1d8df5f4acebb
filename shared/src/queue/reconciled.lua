-- Record that a reconcile finished.
--
-- KEYS[1]  sentinel key: holds the time (ms) up to which the reconciler has
--          covered PostgreSQL; absent: Redis lost its data
-- KEYS[2]  reconciling key: set when a full reconcile began
-- ARGV[1]  when the reconcile began, ms since the epoch
-- ARGV[2]  1 for a full reconcile, 0 for a quick one
--
-- A full reconcile sets the sentinel only if its reconciling mark survived
-- (a flush while it ran removes both: the next tick starts another full
-- reconcile). A quick one only moves a sentinel that exists: it never
-- vouches for data it did not rebuild. Returns 1 if the sentinel was set.

if ARGV[2] == '1' then
  if redis.call('DEL', KEYS[2]) == 0 then
    return 0
  end
  redis.call('SET', KEYS[1], ARGV[1])
  return 1
end
if redis.call('SET', KEYS[1], ARGV[1], 'XX') then
  return 1
end
return 0
