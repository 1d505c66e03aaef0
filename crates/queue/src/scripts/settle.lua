-- Settle entries this consumer holds, a whole batch in one step.
-- KEYS[1] the stream `{p}:events`, KEYS[2] the retry set `{p}:retry`, KEYS[3] the
-- dead-letter stream `{p}:dlq`, KEYS[4], KEYS[5], KEYS[6] its index, groups and
-- recent (dlq_index.lua).
-- ARGV[1] group, ARGV[2] consumer, then one step per entry, an action and its arguments:
--   ack <id>                             applied (or not to be applied)
--   retry <id> <delay ms> <error> <add>  parked in the retry set, `attempt` raised by <add>:
--                                        1 for a failed attempt, 0 for an event postponed
--                                        through no fault of its own (a lock another
--                                        worker holds)
--   dead <id> <error> <attempts>         appended to the dead-letter stream
--   back <id>                            appended to the stream again as a new entry,
--                                        `attempt` unchanged, for another worker to take
-- Returns one integer per step, in order: 1 when done, 0 when the entry is no longer this
-- consumer's (another worker claimed it, or it was settled already), which is then left
-- alone: the owner decides, never two workers. `back` also answers 0 for an entry gone from
-- the stream while pending, as there is nothing to hand back.
--
-- Every step acknowledges the entry and removes it from the stream, so the stream holds only
-- what is not yet settled. A retry member is the entry as a JSON object with `attempt` raised
-- and the `error` that caused the retry, so `redis-cli ZRANGE {p}:retry 0 -1 WITHSCORES`
-- shows why; its score is the due time by Redis's clock, so the workers' clocks never
-- matter. A dead letter keeps every field of the entry, byte for byte, and adds `error`,
-- `failed_at` (ms, Redis's clock) and `attempts`.
local sizes = {ack = 2, retry = 5, dead = 4, back = 2}

-- Every step is checked before anything is written: a script that errors halfway keeps its
-- earlier writes.
local function is_id(id)
  return string.match(id, '^%d+$') ~= nil or string.match(id, '^%d+%-%d+$') ~= nil
end
local i = 3
while i <= #ARGV do
  local action = ARGV[i]
  local size = sizes[action]
  if size == nil or i + size - 1 > #ARGV or not is_id(ARGV[i + 1])
      or (action == 'retry' and (tonumber(ARGV[i + 2]) == nil or tonumber(ARGV[i + 4]) == nil)) then
    return redis.error_reply('ERR settle: malformed step at argument ' .. i)
  end
  i = i + size
end

local group, consumer = ARGV[1], ARGV[2]
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local results = {}
i = 3
while i <= #ARGV do
  local action, id = ARGV[i], ARGV[i + 1]
  local done = 0
  local pending = redis.call('XPENDING', KEYS[1], group, id, id, 1)
  if #pending == 1 and pending[1][2] == consumer then
    done = 1
    local fields = nil
    if action ~= 'ack' then
      local entry = redis.call('XRANGE', KEYS[1], id, id)
      if #entry == 1 then
        fields = entry[1][2]
      end
    end
    if action == 'retry' and fields then
      local member = {}
      for f = 1, #fields, 2 do
        member[fields[f]] = fields[f + 1]
      end
      member['attempt'] = tostring((tonumber(member['attempt']) or 0) + tonumber(ARGV[i + 4]))
      member['error'] = ARGV[i + 3]
      redis.call('ZADD', KEYS[2], now_ms + tonumber(ARGV[i + 2]), cjson.encode(member))
    elseif action == 'dead' and fields then
      table.insert(fields, 'error')
      table.insert(fields, ARGV[i + 2])
      table.insert(fields, 'failed_at')
      table.insert(fields, tostring(now_ms))
      table.insert(fields, 'attempts')
      table.insert(fields, ARGV[i + 3])
      local dead = redis.call('XADD', KEYS[3], '*', unpack(fields))
      dlq_index_add(KEYS[4], KEYS[5], KEYS[6], dead, fields)
    elseif action == 'back' then
      if fields then
        redis.call('XADD', KEYS[1], '*', unpack(fields))
      else
        done = 0
      end
    end
    redis.call('XACK', KEYS[1], group, id)
    redis.call('XDEL', KEYS[1], id)
  end
  table.insert(results, done)
  i = i + sizes[action]
end
return results
