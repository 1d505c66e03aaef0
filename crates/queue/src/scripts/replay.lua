-- Move one dead letter back onto the events stream as a fresh event (`attempt` 0, without
-- the dead-letter fields), in the same step as its removal from the dead-letter stream, so
-- a replay interrupted anywhere neither loses nor duplicates it.
-- KEYS[1] the dead-letter stream `{p}:dlq`, KEYS[2] the stream `{p}:events`, KEYS[3] and
-- KEYS[4] the dead letters' index and groups (see dlq_index.lua).
-- ARGV[1] the dead letter's id. Returns the new entry id, or false when there is no such
-- dead letter.
local entry = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #entry == 0 then
  return false
end
local fields = entry[1][2]
local out = {}
for i = 1, #fields, 2 do
  local name = fields[i]
  if name == 'attempt' then
    table.insert(out, name)
    table.insert(out, '0')
  elseif name ~= 'error' and name ~= 'failed_at' and name ~= 'attempts' then
    table.insert(out, name)
    table.insert(out, fields[i + 1])
  end
end
local id = redis.call('XADD', KEYS[2], '*', unpack(out))
dlq_index_remove(KEYS[3], KEYS[4], ARGV[1], fields)
redis.call('XDEL', KEYS[1], ARGV[1])
return id
