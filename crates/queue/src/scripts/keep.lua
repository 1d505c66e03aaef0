-- Reset the idle time of the entries this consumer still holds, so that no other worker
-- claims an entry a live worker is still applying (XAUTOCLAIM takes what has been idle for
-- CLAIM_IDLE_MS). XCLAIM with JUSTID does not raise the delivery count. An entry another
-- consumer has claimed in the meantime is left to it: taking it back would have two workers
-- apply one event at once.
-- KEYS[1] the stream `{p}:events`. ARGV[1] group, ARGV[2] consumer, ARGV[3..] entry ids.
-- Returns how many are still this consumer's.
local kept = 0
for i = 3, #ARGV do
  local id = ARGV[i]
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)
  if #pending == 1 and pending[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, id, 'JUSTID')
    kept = kept + 1
  end
end
return kept
