-- Move the retry set's due entries back onto the stream, each in the same step as its
-- removal from the set, so two workers promoting at once never promote one entry twice.
-- KEYS[1] the retry set `{p}:retry`, KEYS[2] the stream `{p}:events`, KEYS[3] the
-- dead-letter stream `{p}:dlq`, KEYS[4], KEYS[5], KEYS[6] its index, groups and
-- recent (dlq_index.lua).
-- ARGV[1] how many at most.
-- Returns {moved, due time of the next entry in ms or -1}.
--
-- A member that is not an entry (written by hand, say) cannot be retried; it goes to the
-- dead-letter stream rather than blocking the set.
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms, 'LIMIT', 0, tonumber(ARGV[1]))
for _, member in ipairs(due) do
  local ok, e = pcall(cjson.decode, member)
  if ok and type(e) == 'table' and type(e['svix_id']) == 'string' and type(e['payload']) == 'string' then
    local function text(v, default)
      if type(v) == 'string' or type(v) == 'number' then return tostring(v) end
      return default
    end
    redis.call('XADD', KEYS[2], '*',
      'svix_id', e['svix_id'],
      'svix_timestamp', text(e['svix_timestamp'], ''),
      'type', text(e['type'], ''),
      'payload', e['payload'],
      'received_at', text(e['received_at'], '0'),
      'attempt', text(e['attempt'], '0'))
  else
    local fields = {
      'svix_id', '', 'svix_timestamp', '', 'type', '', 'payload', member,
      'received_at', '0', 'attempt', '0',
      'error', 'retry set member is not a queue entry', 'failed_at', tostring(now_ms),
      'attempts', '0'}
    local dead = redis.call('XADD', KEYS[3], '*', unpack(fields))
    dlq_index_add(KEYS[4], KEYS[5], KEYS[6], dead, fields)
  end
  redis.call('ZREM', KEYS[1], member)
end
local next_due = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {#due, next_due[2] or '-1'}
