-- Index the dead letters that are in no group: those written before the index existed.
-- One page per call, so no call holds Redis for long; an entry already indexed (its group
-- member present) is left as it is, so a second run adds nothing.
-- KEYS[1] the dead-letter stream `{p}:dlq`, KEYS[2] its index `{p}:dlq:index`, KEYS[3] its
-- groups `{p}:dlq:groups`. ARGV[1] the XRANGE start (`-`, or `(<id>` after the last page),
-- ARGV[2] the page size. Returns {the last id read, or '' at the end; how many were indexed}.
local page = redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', tonumber(ARGV[2]))
local added = 0
for _, entry in ipairs(page) do
  local members, group = dlq_members(entry[1], entry[2])
  if not redis.call('ZSCORE', KEYS[2], members[1]) then
    for _, m in ipairs(members) do redis.call('ZADD', KEYS[2], 0, m) end
    redis.call('HINCRBY', KEYS[3], group, 1)
    added = added + 1
  end
end
if #page < tonumber(ARGV[2]) then
  return {'', added}
end
return {page[#page][1], added}
