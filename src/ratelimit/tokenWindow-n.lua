--[[
  Exact token-weighted sliding window of one API key, on Redis's clock: a
  reservation of n tokens made at time t counts n for [t, t + window), and a
  new one is admitted only if the tokens in the window plus its own fit the
  limit. Every operation first trims the reservations that left its window.
  Any number of operations in one round trip (a process sends those of one
  event-loop turn together), in order, on one reading of the clock. The caller
  gives the number of keys first, as EVALSHA does.

  Input, for operation i:
    KEYS[2i-1]  sorted set: reservation id -> reservation time, µs (Redis TIME)
    KEYS[2i]    hash: reservation id -> tokens, and field '#' -> their running total

    ARGV[5i-4]  operation: 'reserve', 'reconcile', 'settle' or 'release'. 'settle' is
             reconcile that also moves the reservation to now: a hold on a call
             that has ended then counts for [end, end + window), which covers the
             moment the call reached its upstream whatever the delay between the
             reservation and the send (the outbound limits, src/routing/outbound.ts)
    ARGV[5i-3]  window length, in ms
    ARGV[5i-2]  reservation id (never '#')
    ARGV[5i-1]  tokens: the estimate (reserve) or the tokens really used (reconcile,
             settle); ignored by release
    ARGV[5i]    limit: tokens per window (reserve only)

  Output:
    {status_1, total_1, retryMs_1, retryAtMs_1, status_2, …}: four per operation
    status     reserve: 1 admitted (or already held), 0 refused, -1 never fits
               (tokens > limit); reconcile, settle, release: 1 if the reservation was
               still in the window, else 0
    total      tokens in the window after the operation
    retryMs    refused only: ms (rounded up) until enough tokens leave the
               window for this reservation to fit, else 0
    retryAtMs  refused only: that moment on Redis's clock, ms since the epoch
               (rounded up), else 0
]]
local time = redis.call('TIME')
local now = time[1] * 1000000 + time[2]

-- One operation on one key's window: {status, total, retryMs, retryAtMs}.
local function apply(times, tokens, op, windowMs, id, n, limitArg)
  local windowUs = tonumber(windowMs) * 1000
  local cutoff = now - windowUs
  -- A reservation at t leaves the window at t + window (t <= now - window). Each is
  -- trimmed once, by whichever call comes first: amortised O(log n) per reservation.
  local total = tonumber(redis.call('HGET', tokens, '#')) or 0
  local trimmed = false
  while true do
    local gone = redis.call('ZRANGE', times, '-inf', cutoff, 'BYSCORE', 'LIMIT', 0, 256)
    if #gone == 0 then break end
    for _, v in ipairs(redis.call('HMGET', tokens, unpack(gone))) do
      total = total - (tonumber(v) or 0)
    end
    redis.call('HDEL', tokens, unpack(gone))
    redis.call('ZREM', times, unpack(gone))
    trimmed = true
  end
  if redis.call('ZCARD', times) == 0 then
    -- Nothing in the window: this also heals a total that drifted (a hash evicted alone).
    redis.call('DEL', tokens)
    total = 0
  elseif trimmed then
    redis.call('HSET', tokens, '#', total)
  end

  local held = tonumber(redis.call('HGET', tokens, id))

  if op == 'reserve' then
    local limit = tonumber(limitArg)
    if held then return {1, total, 0, 0} end
    if n > limit then return {-1, total, 0, 0} end
    if total + n <= limit then
      redis.call('ZADD', times, now, id)
      redis.call('HSET', tokens, id, n)
      total = redis.call('HINCRBY', tokens, '#', n)
      redis.call('PEXPIRE', times, windowMs)
      redis.call('PEXPIRE', tokens, windowMs)
      return {1, total, 0, 0}
    end
    -- Refused: walk the oldest reservations until enough would have left. At most
    -- the reservations of one window, which the request limit bounds.
    local excess = total + n - limit
    local freed, offset = 0, 0
    while true do
      local page = redis.call('ZRANGE', times, offset, offset + 63, 'WITHSCORES')
      if #page == 0 then break end
      local ids = {}
      for i = 1, #page, 2 do ids[#ids + 1] = page[i] end
      local counts = redis.call('HMGET', tokens, unpack(ids))
      for j = 1, #ids do
        freed = freed + (tonumber(counts[j]) or 0)
        if freed >= excess then
          local at = tonumber(page[2 * j]) + windowUs
          return {0, total, math.ceil((at - now) / 1000), math.ceil(at / 1000)}
        end
      end
      offset = offset + 64
    end
    -- The total disagreed with the entries (cannot happen unless keys were edited by hand).
    return {0, total, tonumber(windowMs), math.ceil((now + windowUs) / 1000)}
  end

  if not held then return {0, total, 0, 0} end
  if op == 'settle' then
    redis.call('ZADD', times, now, id)
    redis.call('PEXPIRE', times, windowMs)
    redis.call('PEXPIRE', tokens, windowMs)
    if n > 0 then
      redis.call('HSET', tokens, id, n)
      total = redis.call('HINCRBY', tokens, '#', n - held)
    end
    return {1, total, 0, 0}
  end
  if op == 'reconcile' and n > 0 then
    redis.call('HSET', tokens, id, n)
    total = redis.call('HINCRBY', tokens, '#', n - held)
    return {1, total, 0, 0}
  end
  -- release, or a reconcile to 0 tokens: it holds nothing, so it goes.
  redis.call('ZREM', times, id)
  redis.call('HDEL', tokens, id)
  total = redis.call('HINCRBY', tokens, '#', -held)
  return {1, total, 0, 0}
end

local out = {}
for i = 1, #KEYS / 2 do
  local times = KEYS[2 * i - 1]
  local tokens = KEYS[2 * i]
  local a = 5 * i
  local r = apply(times, tokens, ARGV[a - 4], ARGV[a - 3], ARGV[a - 2], tonumber(ARGV[a - 1]), ARGV[a])
  for j = 1, 4 do out[#out + 1] = r[j] end
end
return out
