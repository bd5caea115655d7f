--[[
  A job of the class starts: the class clock advances to its virtual start
  time (never back). Once the clock is half a band past the epoch, the epoch
  moves up by half a band and the caller re-prioritises the class's waiting
  jobs against it, so offsets never run off the top of the band.

  Input:
    KEYS[1]  hash of the class (see fairAdmit-1.lua)

    ARGV[1]  virtual start time of the job that starts
    ARGV[2]  band width

  Output:
    {g, shifted, epoch}
    g        the class clock after the call
    shifted  1 when this call moved the epoch (the caller renormalises), else 0
    epoch    the epoch after the call
]]
local class = KEYS[1]
local vt = tonumber(ARGV[1])
local half = math.floor(tonumber(ARGV[2]) / 2)

local g = math.max(tonumber(redis.call('HGET', class, 'g') or '0'), vt)
local e = tonumber(redis.call('HGET', class, 'e') or '0')
redis.call('HSET', class, 'g', g)
local shifted = 0
if g - e >= half then
  e = e + half
  redis.call('HSET', class, 'e', e)
  shifted = 1
end
return {g, shifted, e}
