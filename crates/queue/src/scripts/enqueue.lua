-- Duplicate guard and XADD as one step.
-- KEYS[1] the guard `{p}:seen:<svix-id>`, KEYS[2] the stream `{p}:events`.
-- ARGV[1] guard TTL in seconds, ARGV[2] high-water mark (0 = none), ARGV[3..] field/value pairs.
-- Returns the new entry id, or false when the guard already exists.
--
-- The XADD comes before the SET: a script that errors halfway keeps its earlier writes, so
-- writing the guard last is what guarantees a failed XADD leaves no guard behind. Once a
-- script has written, Redis lets it finish even under maxmemory, so the SET cannot fail.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return false
end
local high_water = tonumber(ARGV[2])
if high_water > 0 and redis.call('XLEN', KEYS[2]) >= high_water then
  return redis.error_reply('HIGHWATER the events stream is at its high-water mark')
end
local id = redis.call('XADD', KEYS[2], '*', unpack(ARGV, 3))
redis.call('SET', KEYS[1], id, 'EX', ARGV[1])
return id
