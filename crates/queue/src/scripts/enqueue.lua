-- Duplicate guard and XADD of a group of entries as one step.
-- KEYS[1] the stream `{p}:events`.
-- ARGV[1] the guard's window in seconds (its TTL), ARGV[2] the high-water mark (0 = none),
-- ARGV[3] the hash tag `{p}`, ARGV[4] W, how many field/value arguments each entry has,
-- then for each entry its svix-id followed by its W field/value arguments.
-- Returns one reply per entry, in order: its new entry id; false when its svix-id is guarded
-- (by an earlier call or earlier in this group); 0 when the stream is at its high-water mark.
--
-- The guard keeps svix-ids as fields of small hashes, `{p}:guard:<window>:h<hex>`, where
-- <window> is Redis's time divided by ARGV[1] and <hex> the first `level` hex digits of the
-- id's SHA-1. A bucket of window w expires at the end of window w + 1, so an id is refused
-- for at least one window after it was queued; a lookup checks this window and the last.
-- Buckets are kept under FILL ids on average, well inside Redis's listpack encoding (128
-- fields), which stores an id in about its own length: `{p}:guard:<window>` counts a
-- window's ids and, each time the buckets of the current level hold FILL on average, moves
-- new ids one level (16 times as many buckets) down. A window starts at the level the last
-- one needed, so at a steady rate a lookup reads one level per window.
-- Receivers of earlier versions guarded an id with the string `{p}:seen:<svix-id>`; those
-- keys expire on their own and are checked until then.
--
-- Every check, and every key type the writes depend on, comes before the first write: a
-- script that errors halfway keeps its earlier writes, so an error leaves nothing behind.
-- Once the script has written, Redis lets it finish even under maxmemory.
-- Keys are computed here from Redis's clock, so that receivers with skewed clocks agree on
-- the window; they all carry the hash tag of KEYS[1], so they live in its cluster slot.

local FILL = 64
local MAX_LEVEL = 8

local stream = KEYS[1]
local window_secs = tonumber(ARGV[1])
local high_water = tonumber(ARGV[2])
local tag = ARGV[3]
local width = tonumber(ARGV[4])
local stride = width + 1
local count = (#ARGV - 4) / stride

local window = math.floor(tonumber(redis.call('TIME')[1]) / window_secs)
local expires_at = string.format('%d', (window + 2) * window_secs)
-- Key names built once per call: Lua turns a number into text through sprintf.
local guard = tag .. ':guard:'
local this_window = guard .. string.format('%d', window)
local last_window = guard .. string.format('%d', window - 1)

local function levels(meta_key)
  local m = redis.call('HMGET', meta_key, 'l0', 'l', 'n', 'c')
  if not m[1] then
    return nil
  end
  return { l0 = tonumber(m[1]), l = tonumber(m[2]), n = tonumber(m[3]), c = tonumber(m[4]) }
end

local current = levels(this_window)
local previous = levels(last_window)

-- Buckets a lookup has read: a bucket of the wrong type fails the lookup, before any
-- write; only buckets written but not read need their type checked.
local read = {}

local function guarded(id, digest)
  for _, w in ipairs({ { this_window, current }, { last_window, previous } }) do
    local meta = w[2]
    if meta then
      for level = meta.l0, meta.l do
        local key = w[1] .. ':h' .. string.sub(digest, 1, level)
        read[key] = true
        if redis.call('HEXISTS', key, id) == 1 then
          return true
        end
      end
    end
  end
  return false
end

-- Ids guarded the earlier way, looked for all at once: after an upgrade's first day there
-- are none, and one call answers that for the whole group.
local legacy = {}
do
  local seen = {}
  for i = 1, count do
    seen[i] = tag .. ':seen:' .. ARGV[4 + (i - 1) * stride + 1]
  end
  if redis.call('EXISTS', unpack(seen)) > 0 then
    for i = 1, count do
      legacy[i] = redis.call('EXISTS', seen[i]) == 1
    end
  end
end

local replies = {}
local fresh = {}
local digests = {}
local in_group = {}
for i = 1, count do
  local id = ARGV[4 + (i - 1) * stride + 1]
  local digest = redis.sha1hex(id)
  if in_group[id] or legacy[i] or guarded(id, digest) then
    replies[i] = false
  else
    in_group[id] = true
    digests[i] = digest
    fresh[#fresh + 1] = i
  end
end
if #fresh == 0 then
  return replies
end
if high_water > 0 and redis.call('XLEN', stream) >= high_water then
  for _, i in ipairs(fresh) do
    replies[i] = 0
  end
  return replies
end

-- Where each new id goes, growing the level as the buckets fill.
local meta = current
if not meta then
  local l0 = 0
  if previous then
    while l0 < MAX_LEVEL and FILL * 16 ^ l0 < previous.c do
      l0 = l0 + 1
    end
  end
  meta = { l0 = l0, l = l0, n = 0, c = 0 }
end
local targets = {}
local buckets = {}
for _, i in ipairs(fresh) do
  local key = this_window .. ':h' .. string.sub(digests[i], 1, meta.l)
  targets[i] = key
  buckets[key] = true
  meta.n = meta.n + 1
  meta.c = meta.c + 1
  if meta.l < MAX_LEVEL and meta.n >= FILL * 16 ^ meta.l then
    meta.l = meta.l + 1
    meta.n = 0
  end
end
for key in pairs(buckets) do
  if not read[key] then
    local kind = redis.call('TYPE', key).ok
    if kind ~= 'hash' and kind ~= 'none' then
      return redis.error_reply('WRONGTYPE the guard bucket ' .. key .. ' is not a hash')
    end
  end
end

-- The XADDs come before the guards, so a failed XADD (the first one fails for all) leaves
-- no guard behind.
for _, i in ipairs(fresh) do
  local base = 4 + (i - 1) * stride + 1
  replies[i] = redis.call('XADD', stream, '*', unpack(ARGV, base + 1, base + width))
end
for _, i in ipairs(fresh) do
  redis.call('HSET', targets[i], ARGV[4 + (i - 1) * stride + 1], '1')
end
for key in pairs(buckets) do
  redis.call('EXPIREAT', key, expires_at)
end
redis.call('HSET', this_window, 'l0', meta.l0, 'l', meta.l, 'n', meta.n, 'c', meta.c)
redis.call('EXPIREAT', this_window, expires_at)
return replies
