-- Give entries back to the group without using up an attempt: each is appended again as a
-- new entry, then acknowledged and removed, in one step. Used when this worker cannot apply
-- what it holds (PostgreSQL unreachable, shutting down), so another worker can, at once,
-- instead of after the claim timeout.
-- KEYS[1] the stream `{p}:events`. ARGV[1] group, ARGV[2] consumer, ARGV[3..] entry ids.
-- Returns how many were handed back.
local moved = 0
for i = 3, #ARGV do
  local id = ARGV[i]
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)
  if #pending == 1 and pending[1][2] == ARGV[2] then
    local entry = redis.call('XRANGE', KEYS[1], id, id)
    if #entry == 1 then
      redis.call('XADD', KEYS[1], '*', unpack(entry[1][2]))
      moved = moved + 1
    end
    redis.call('XACK', KEYS[1], ARGV[1], id)
    redis.call('XDEL', KEYS[1], id)
  end
end
return moved
