-- Delete one dead letter and its index members in one step.
-- KEYS[1] the dead-letter stream `{p}:dlq`, KEYS[2] its index `{p}:dlq:index`, KEYS[3] its
-- groups `{p}:dlq:groups`. ARGV[1] the dead letter's id. Returns 1, or 0 when there is none.
local entry = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #entry == 0 then
  return 0
end
dlq_index_remove(KEYS[2], KEYS[3], ARGV[1], entry[1][2])
redis.call('XDEL', KEYS[1], ARGV[1])
return 1
