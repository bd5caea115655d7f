--[[
  Appends job events: any number in one round trip (a process sends those of
  one event-loop turn together), in order. The caller gives the number of keys
  first, as EVALSHA does.

  Input:
    KEYS[i]      event stream of event i (a key may appear more than once)

    ARGV[1]      entries kept per stream (approximate MAXLEN)
    ARGV[2]      seconds a stream lives after its last renewing event
    ARGV[3i]     type of event i
    ARGV[3i+1]   its data (JSON text)
    ARGV[3i+2]   "1" to renew the stream's TTL with it, "0" not (a delta)

  Output:
    {id_1, id_2, …}: the stream entry id of each event, or "" when KEYS[i]
    holds something other than a stream (that append fails, the others still
    run)
]]
local maxLen, ttl = ARGV[1], ARGV[2]
local out = {}

for i = 1, #KEYS do
  local key = KEYS[i]
  local a = 3 * i
  local ok, id = pcall(redis.call, 'XADD', key, 'MAXLEN', '~', maxLen, '*', 'type', ARGV[a], 'data', ARGV[a + 1])
  if ok then
    if ARGV[a + 2] == '1' then redis.call('EXPIRE', key, ttl) end
    out[i] = id
  else
    out[i] = ''
  end
end

return out
