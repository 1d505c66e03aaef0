-- Shared by every script that adds or removes dead letters (prepended to each): the members
-- a dead letter has in the index `{p}:dlq:index` and the group it counts in, so the console
-- lists groups and pages of a group, a type, a reason, an svix_id or an object without
-- reading the whole dead-letter stream. Every member scores 0 and is ordered by its text:
--   g\n<type>\n<reason>\n<entry id>   t\n<type>\n<entry id>   r\n<reason>\n<entry id>
--   s\n<svix_id>\n<entry id>          o\n<object id>\n<entry id> (each id the payload names)
-- `{p}:dlq:groups` is a hash of `<type>\n<reason>` to how many dead letters the group has.
-- The reason is the error up to its first `:`, digits runs as `N`, control characters as
-- spaces, at most 80 bytes (never cut inside a character): `gave up after N attempts`.

local function dlq_reason(err)
  local r = string.match(err or '', '^[^:]*') or ''
  r = (string.gsub(r, '%d+', 'N'))
  r = (string.gsub(r, '%c', ' '))
  if #r > 80 then
    r = string.sub(r, 1, 80)
    -- The cut may split the last character: drop it whole.
    r = (string.gsub(r, '[\192-\255][\128-\191]*$', ''))
  end
  if r == '' then r = '-' end
  return r
end

-- The Clerk ids a payload names: its object's, and the user or organization it belongs to.
local function dlq_objects(payload)
  local ok, body = pcall(cjson.decode, payload or '')
  if not ok or type(body) ~= 'table' or type(body['data']) ~= 'table' then return {} end
  local data, found, seen = body['data'], {}, {}
  local function add(v)
    if type(v) == 'string' and #v <= 128 and string.match(v, '^[%w_%-]+$') and not seen[v] then
      seen[v] = true
      table.insert(found, v)
    end
  end
  add(data['id'])
  add(data['user_id'])
  add(data['organization_id'])
  if type(data['public_user_data']) == 'table' then add(data['public_user_data']['user_id']) end
  if type(data['organization']) == 'table' then add(data['organization']['id']) end
  return found
end

-- The index members and the group of the dead letter `id` with the flat field list `fields`.
local function dlq_members(id, fields)
  local f = {}
  for i = 1, #fields, 2 do f[fields[i]] = fields[i + 1] end
  local kind, reason = f['type'] or '', dlq_reason(f['error'])
  local members = {
    'g\n' .. kind .. '\n' .. reason .. '\n' .. id,
    't\n' .. kind .. '\n' .. id,
    'r\n' .. reason .. '\n' .. id,
  }
  if f['svix_id'] and f['svix_id'] ~= '' then
    table.insert(members, 's\n' .. f['svix_id'] .. '\n' .. id)
  end
  for _, object in ipairs(dlq_objects(f['payload'])) do
    table.insert(members, 'o\n' .. object .. '\n' .. id)
  end
  return members, kind .. '\n' .. reason
end

-- Indexes a dead letter just added, and counts it in `{p}:dlq:recent` (its id scored by
-- the ms it was dead-lettered at, kept for an hour whatever becomes of it), which the
-- console's per-minute chart reads.
local function dlq_index_add(index, groups, recent, id, fields)
  local members, group = dlq_members(id, fields)
  for _, m in ipairs(members) do redis.call('ZADD', index, 0, m) end
  redis.call('HINCRBY', groups, group, 1)
  local ms = tonumber(string.match(id, '^(%d+)'))
  redis.call('ZADD', recent, ms, id)
  redis.call('ZREMRANGEBYSCORE', recent, '-inf', ms - 3600000)
end

-- Forgets a dead letter about to be removed; `fields` as XRANGE read them.
local function dlq_index_remove(index, groups, id, fields)
  local members, group = dlq_members(id, fields)
  redis.call('ZREM', index, unpack(members))
  if redis.call('HINCRBY', groups, group, -1) <= 0 then redis.call('HDEL', groups, group) end
end

