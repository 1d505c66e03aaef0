-- Acknowledge an entry and park it in the retry set, as one step.
-- KEYS[1] the stream `{p}:events`, KEYS[2] the retry set `{p}:retry`.
-- ARGV[1] group, ARGV[2] entry id, ARGV[3] consumer, ARGV[4] delay in ms, ARGV[5] error,
-- ARGV[6] what to add to `attempt`: 1 for a failed attempt, 0 for an event postponed
-- through no fault of its own (a lock another worker holds).
-- Returns 1 when moved, 0 when the entry is no longer this consumer's (another worker
-- claimed it, or it was settled already): the owner decides, never two workers.
--
-- The member is the entry as a JSON object with `attempt` raised by ARGV[6] and the `error`
-- that caused the retry, so `redis-cli ZRANGE {p}:retry 0 -1 WITHSCORES` shows why. The
-- score is the due time by Redis's clock, so the workers' clocks never matter.
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #pending == 0 or pending[1][2] ~= ARGV[3] then
  return 0
end
local entry = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])
if #entry == 1 then
  local fields = entry[1][2]
  local member = {}
  for i = 1, #fields, 2 do
    member[fields[i]] = fields[i + 1]
  end
  member['attempt'] = tostring((tonumber(member['attempt']) or 0) + tonumber(ARGV[6]))
  member['error'] = ARGV[5]
  local now = redis.call('TIME')
  local due = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + tonumber(ARGV[4])
  redis.call('ZADD', KEYS[2], due, cjson.encode(member))
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return 1
