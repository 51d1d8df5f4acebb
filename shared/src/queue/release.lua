-- Give up the housekeeping leader lease, if this worker holds it.
--
-- KEYS[1]  leader key
-- ARGV[1]  this worker's id
--
-- Atomically: deletes the key only when its value is ARGV[1]. Returns 1 if
-- deleted, else 0.

if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
