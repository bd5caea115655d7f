import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { rateLimitGroup, trustProxyOption } from '../../src/ratelimit/plugin.js';
import { burst, caller, sharedRedisPerTest, statuses } from './app.js';

const s = sharedRedisPerTest();

const admitted = (rs: Array<{ statusCode: number }>) => rs.filter((r) => r.statusCode === 200).length;

describe('limits by tier', () => {
  it('defaults: free 10, pro 100, enterprise 1000 per minute, the admin key counting as enterprise', async () => {
    const a = await s.app();
    const post = (h: Record<string, string>) => ({ method: 'POST' as const, url: '/v1/generate', headers: h });
    expect(admitted(await burst(a, 15, post(caller('key_free', 'free'))))).toBe(10);
    expect(admitted(await burst(a, 120, post(caller('key_pro', 'pro'))))).toBe(100);
    expect(admitted(await burst(a, 1010, post(caller('key_ent', 'enterprise'))))).toBe(1000);
    const admin = await a.inject(post({ 'x-test-caller': 'admin:enterprise:admin' }));
    expect(admin.headers['x-ratelimit-limit']).toBe('1000');
  });

  it('each limit is overridable by env, and each key has its own bucket', async () => {
    const a = await s.app({ RATE_LIMIT_FREE: '2', RATE_LIMIT_PRO: '4', RATE_LIMIT_ENTERPRISE: '6', RATE_LIMIT_ANONYMOUS: '3' });
    const post = (h: Record<string, string>) => ({ method: 'POST' as const, url: '/v1/generate', headers: h });
    expect(admitted(await burst(a, 10, post(caller('key_f1', 'free'))))).toBe(2);
    expect(admitted(await burst(a, 10, post(caller('key_f2', 'free'))))).toBe(2);
    expect(admitted(await burst(a, 10, post(caller('key_p', 'pro'))))).toBe(4);
    expect(admitted(await burst(a, 10, post(caller('key_e', 'enterprise'))))).toBe(6);
    // Routes without a key (here /docs) are limited per client IP.
    const docs = await burst(a, 10, { method: 'GET', url: '/docs' });
    expect(admitted(docs)).toBe(3);
    expect(docs[0]!.headers['x-ratelimit-limit']).toBe('3');
    expect(await s.redis.exists(`${s.prefix}:rl:ip:127.0.0.1`, `${s.prefix}:rl:k:key_f1`, `${s.prefix}:rl:k:key_e`)).toBe(3);
  });
});

describe('per-route buckets', () => {
  it('listing and polling jobs spend the read budget, not the generation budget', async () => {
    const a = await s.app({ RATE_LIMIT_FREE: '2' });
    const h = caller('key_g', 'free');
    expect(statuses(await burst(a, 3, { method: 'POST', url: '/v1/generate', headers: h }))).toEqual({ 200: 2, 429: 1 });
    // /v1/templates has no config: it shares the main budget, already spent.
    expect((await a.inject({ method: 'GET', url: '/v1/templates', headers: h })).statusCode).toBe(429);
    // GET /v1/jobs and GET /v1/jobs/:id share the "read" group: 2 between them.
    expect((await a.inject({ method: 'GET', url: '/v1/jobs', headers: h })).statusCode).toBe(200);
    expect((await a.inject({ method: 'GET', url: '/v1/jobs/j1', headers: h })).statusCode).toBe(200);
    expect((await a.inject({ method: 'GET', url: '/v1/jobs/j2', headers: h })).statusCode).toBe(429);
    expect(await s.redis.llen(`${s.prefix}:rl:k:key_g@read`)).toBe(2);
    expect(await s.redis.llen(`${s.prefix}:rl:k:key_g`)).toBe(2);
  });

  it('a group can override the limit, and a route with its own config gets its own bucket', async () => {
    const a = await s.app();
    const h = caller('key_o', 'pro');
    expect(statuses(await burst(a, 3, { method: 'GET', url: '/v1/exports', headers: h }))).toEqual({ 200: 1, 429: 2 });
    expect(statuses(await burst(a, 4, { method: 'GET', url: '/v1/special', headers: h }))).toEqual({ 200: 2, 429: 2 });
    expect(await s.redis.llen(`${s.prefix}:rl:k:key_o@exports`)).toBe(1);
    expect(await s.redis.llen(`${s.prefix}:rl:k:key_o@GET /v1/special`)).toBe(2);
    expect((await a.inject({ method: 'POST', url: '/v1/generate', headers: h })).headers['x-ratelimit-remaining']).toBe('99');
  });

  it('/health, /ready and /metrics are never limited and touch no Redis key', async () => {
    const a = await s.app({ RATE_LIMIT_ANONYMOUS: '2' });
    for (const url of ['/health', '/ready', '/metrics']) {
      const rs = await burst(a, 20, { method: 'GET', url });
      expect(statuses(rs)).toEqual({ 200: 20 });
      expect(rs[0]!.headers['x-ratelimit-limit']).toBeUndefined();
    }
    expect(await s.redis.exists(`${s.prefix}:rl:ip:127.0.0.1`)).toBe(0);
  });

  it('rejects group names that could collide with keys', () => {
    expect(() => rateLimitGroup('Jobs Read')).toThrow(/group/);
    expect(rateLimitGroup('read', { max: 5 })).toEqual({ max: 5, groupId: '@read' });
  });
});

describe('client IP keying', () => {
  const fromProxy = (xff: string, remoteAddress = '127.0.0.1') => ({
    method: 'GET' as const, url: '/docs', remoteAddress, headers: { 'x-forwarded-for': xff },
  });

  it('ignores X-Forwarded-For without TRUST_PROXY: every client behind one address shares its bucket', async () => {
    const a = await s.app({ RATE_LIMIT_ANONYMOUS: '2' });
    const rs = [await a.inject(fromProxy('1.1.1.1')), await a.inject(fromProxy('2.2.2.2')), await a.inject(fromProxy('3.3.3.3'))];
    expect(rs.map((r) => r.statusCode)).toEqual([200, 200, 429]);
    expect(await s.redis.llen(`${s.prefix}:rl:ip:127.0.0.1`)).toBe(2);
  });

  it('honours X-Forwarded-For only from the proxy TRUST_PROXY names', async () => {
    const a = await s.app({ RATE_LIMIT_ANONYMOUS: '2', TRUST_PROXY: '127.0.0.1, 10.0.0.0/8' });
    for (const ip of ['1.1.1.1', '2.2.2.2', '3.3.3.3']) expect((await a.inject(fromProxy(ip))).statusCode).toBe(200);
    expect((await a.inject(fromProxy('4.4.4.4', '10.1.2.3'))).statusCode).toBe(200);
    expect(await s.redis.llen(`${s.prefix}:rl:ip:4.4.4.4`)).toBe(1);
    // A client that is not the proxy cannot pick its bucket by forging the header.
    const forged = [await a.inject(fromProxy('5.5.5.5', '192.0.2.7')), await a.inject(fromProxy('6.6.6.6', '192.0.2.7'))];
    expect(forged.map((r) => r.statusCode)).toEqual([200, 200]);
    expect((await a.inject(fromProxy('7.7.7.7', '192.0.2.7'))).statusCode).toBe(429);
    expect(await s.redis.llen(`${s.prefix}:rl:ip:192.0.2.7`)).toBe(2);
    expect(await s.redis.exists(`${s.prefix}:rl:ip:5.5.5.5`)).toBe(0);
  });

  it('groups IPv6 clients by /64', async () => {
    const a = await s.app({ RATE_LIMIT_ANONYMOUS: '2' });
    const from = (remoteAddress: string) => a.inject({ method: 'GET', url: '/docs', remoteAddress });
    expect([(await from('2001:db8::1')).statusCode, (await from('2001:db8::2')).statusCode, (await from('2001:db8::3')).statusCode]).toEqual([200, 200, 429]);
    expect((await from('2001:db8:0:1::1')).statusCode).toBe(200);
  });

  it('trustProxyOption: false when unset, the listed addresses otherwise', () => {
    expect(trustProxyOption(loadConfig({}))).toBe(false);
    expect(trustProxyOption(loadConfig({ TRUST_PROXY: '10.0.0.1, 10.0.0.2,,' }))).toEqual(['10.0.0.1', '10.0.0.2']);
  });
});
