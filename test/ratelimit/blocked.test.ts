import { describe, expect, it } from 'vitest';
import { BlockedKeys } from '../../src/ratelimit/blocked-keys.js';
import { startRedisServer } from '../support/redis-server.js';
import { buildApp, burst, caller, connect, dedicatedPerTest, scriptRuns, statuses, uniquePrefix } from './app.js';

const d = dedicatedPerTest();

describe('keys known to be full', () => {
  it('are rejected without a Redis round trip until a slot can free', async () => {
    d.server = await startRedisServer();
    d.redis = await connect(d.server.url);
    d.t = await buildApp(d.redis, { REDIS_PREFIX: uniquePrefix(), RATE_LIMIT_FREE: '2' });
    const h = caller('key_b', 'free');
    const before = await scriptRuns(d.redis);
    expect(statuses(await burst(d.t.app, 2, { method: 'POST', url: '/v1/generate', headers: h }))).toEqual({ 200: 2 });
    const first = await d.t.app.inject({ method: 'POST', url: '/v1/generate', headers: h });
    const local = await d.t.app.inject({ method: 'POST', url: '/v1/generate', headers: h });
    expect([first.statusCode, local.statusCode]).toEqual([429, 429]);
    expect(statuses(await burst(d.t.app, 20, { method: 'POST', url: '/v1/generate', headers: h }))).toEqual({ 429: 20 });
    // One script run for the burst of two (one event-loop turn), one for the first 429, none after.
    expect((await scriptRuns(d.redis)) - before).toBe(2);
    // Same headers and body either way; Retry-After never shrinks below the script's answer.
    expect(local.headers['x-ratelimit-remaining']).toBe('0');
    expect(local.headers['retry-after']).toBe(first.headers['retry-after']);
    expect(local.json()).toMatchObject({ error: { code: 'rate_limited', details: { limit: 2 } } });

    // A key upgraded to a higher limit is asked about again, not rejected from memory.
    expect((await d.t.app.inject({ method: 'POST', url: '/v1/generate', headers: caller('key_b', 'pro') })).statusCode).toBe(200);
  });
});

describe('BlockedKeys', () => {
  it('answers only while the key is certainly full, and stays bounded', () => {
    const blocked = new BlockedKeys(2);
    blocked.add('a', 5, 1000, 0, 10);
    expect(blocked.check('a', 5, 500)).toBe(510);
    expect(blocked.check('a', 6, 500)).toBeUndefined();
    expect(blocked.check('a', 5, 999)).toBeUndefined();
    blocked.add('a', 5, 1000, 0, 10);
    blocked.add('b', 5, 1000, 0, 10);
    blocked.add('c', 5, 1000, 0, 10);
    expect(blocked.check('a', 5, 1)).toBeUndefined();
    expect(blocked.check('b', 5, 1)).toBe(1009);
    expect(blocked.check('c', 5, 1)).toBe(1009);
  });
});
