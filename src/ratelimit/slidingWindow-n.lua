--[[
  Checks requests against exact sliding windows and records those that fit:
  any number of checks in one round trip (the API sends those of one
  event-loop turn together), in order, on Redis's clock (shared by every API
  process). The caller gives the number of keys first, as EVALSHA does.

  Input:
    KEYS[i]      limiter key of check i: list of admission times in µs, newest
                 at the head; a key may appear more than once

    ARGV[3i-2]   window length of check i, in ms
    ARGV[3i-1]   its limit: requests admitted per window
    ARGV[3i]     "1" to check and record, "0" to read only

  Output:
    {count_1, resetMs_1, admitted_1, count_2, …}: three integers per check
    count    requests in the window, this one included when it was admitted;
             -1 when KEYS[i] holds something other than a list (that check
             fails, the others still run)
    resetMs  ms until the oldest request leaves the window, i.e. until one more
             fits (0 when the window is empty)
    admitted 1 when this request was recorded, else 0; rejected requests are
             never recorded, so they neither count nor extend a block
]]
-- Arguments reach redis.call as strings: Redis formats a Lua number with %.17g
-- on every call, 13 % of this script's instructions when it did so.
local time = redis.call('TIME')
local now = time[1] * 1000000 + time[2]
local nowStr = string.format('%d', now)
local out = {}

for i = 1, #KEYS do
  local key = KEYS[i]
  local a = 3 * i
  local windowMs = ARGV[a - 2]
  local limit = tonumber(ARGV[a - 1])
  local cutoff = now - windowMs * 1000
  local count, resetMs, admitted = -1, 0, 0

  -- pcall: one foreign key must not fail every check sent with it.
  local tail = redis.pcall('LINDEX', key, '-1')
  if type(tail) ~= 'table' then
    -- Times arrive in order, so the requests that left the window are at the
    -- tail. Each entry is popped once: amortised O(1) per admitted request.
    local oldest = tonumber(tail)
    while oldest and oldest <= cutoff do
      redis.call('RPOP', key)
      oldest = tonumber(redis.call('LINDEX', key, '-1'))
    end

    if ARGV[a] == '1' then
      -- Push first and undo when over: the admitted path needs no LLEN.
      count = redis.call('LPUSH', key, nowStr)
      if count > limit then
        redis.call('LPOP', key)
        count = count - 1
      else
        redis.call('PEXPIRE', key, windowMs)
        admitted = 1
        oldest = oldest or now
      end
    else
      count = redis.call('LLEN', key)
    end

    if oldest then
      resetMs = math.ceil((oldest - cutoff) / 1000)
    end
  end

  out[a - 2] = count
  out[a - 1] = resetMs
  out[a] = admitted
end

return out
