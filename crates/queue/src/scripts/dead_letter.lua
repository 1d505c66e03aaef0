-- Acknowledge an entry and append it to the dead-letter stream, as one step.
-- KEYS[1] the stream `{p}:events`, KEYS[2] the dead-letter stream `{p}:dlq`.
-- ARGV[1] group, ARGV[2] entry id, ARGV[3] consumer, ARGV[4] error, ARGV[5] attempts made.
-- Returns 1 when dead-lettered, 0 when the entry is no longer this consumer's.
--
-- The dead letter keeps every field of the entry, byte for byte, and adds `error`,
-- `failed_at` (ms, Redis's clock) and `attempts`.
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #pending == 0 or pending[1][2] ~= ARGV[3] then
  return 0
end
local entry = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])
if #entry == 1 then
  local fields = entry[1][2]
  local now = redis.call('TIME')
  local failed_at = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
  table.insert(fields, 'error')
  table.insert(fields, ARGV[4])
  table.insert(fields, 'failed_at')
  table.insert(fields, tostring(failed_at))
  table.insert(fields, 'attempts')
  table.insert(fields, ARGV[5])
  redis.call('XADD', KEYS[2], '*', unpack(fields))
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return 1
