--[[
  Start-time fair queuing inside one priority class: gives a job of an API key
  (or a run of `count` jobs, a batch's) its virtual start time, max(the key's
  clock, the class's clock), and moves the key's clock `count` past it (job i of
  a run starts at vt + i), so each key gets one slot per unit of virtual
  time however many jobs it sends. The job's BullMQ priority offset is that
  time relative to the class's epoch, clamped to the band.

  Input:
    KEYS[1]  hash of the class: 'g' -> class clock (virtual time of the latest
             job started), 'e' -> epoch (virtual time at offset 0),
             'k:<apiKeyId>' -> the key's clock

    ARGV[1]  API key id
    ARGV[2]  band width: offsets run from 0 to band - 1
    ARGV[3]  count of jobs (optional, default 1)

  Output:
    {vt, offset}
    vt      the (first) job's virtual start time (kept in its data, for fairStart)
    offset  vt - epoch, clamped to [0, band - 1] (job i: clamp(offset + i))
]]
local class = KEYS[1]
local field = 'k:' .. ARGV[1]
local band = tonumber(ARGV[2])
local count = tonumber(ARGV[3] or '1')

local g = tonumber(redis.call('HGET', class, 'g') or '0')
local e = tonumber(redis.call('HGET', class, 'e') or '0')
local k = tonumber(redis.call('HGET', class, field) or '0')
local vt = math.max(k, g)
redis.call('HSET', class, field, vt + count)
local offset = math.min(math.max(vt - e, 0), band - 1)
return {vt, offset}
