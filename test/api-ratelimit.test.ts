import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from './support/context.js';

let t: TestEnv;
beforeAll(async () => { t = await createTestEnv(); });
afterAll(() => t.close());

describe('the limiter inside the app', () => {
  it('limits by the key tier, with headers and the standard 429 body; reads have their own bucket', async () => {
    const free = await t.keyHeader('free');
    for (let i = 0; i < 10; i++) {
      const ok = await t.app.inject({ method: 'GET', url: '/v1/templates', headers: free });
      expect(ok.statusCode).toBe(200);
      expect(ok.headers['x-ratelimit-limit']).toBe('10');
      expect(ok.headers['x-ratelimit-remaining']).toBe(String(9 - i));
    }
    const limited = await t.app.inject({ method: 'POST', url: '/v1/generate', headers: free, payload: { templateId: 'tpl_x' } });
    expect(limited.statusCode).toBe(429);
    const { error } = limited.json();
    expect(error.code).toBe('rate_limited');
    expect(error.details.limit).toBe(10);
    expect(new Date(error.details.resetAt).getTime()).toBeGreaterThan(Date.now());
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(limited.headers['x-ratelimit-reset'])).toBeLessThanOrEqual(Number(limited.headers['retry-after']));

    const read = await t.app.inject({ method: 'GET', url: '/v1/jobs', headers: free });
    expect(read.statusCode).toBe(200); // listing jobs does not spend the generation budget
    expect((await t.app.inject({ method: 'GET', url: '/health' })).headers['x-ratelimit-limit']).toBeUndefined();
  });

  it('the admin key counts as enterprise; an unauthenticated /v1 request is a 401, not a limit', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/templates', headers: t.admin });
    expect(res.headers['x-ratelimit-limit']).toBe('1000');
    expect((await t.app.inject({ method: 'GET', url: '/v1/templates' })).statusCode).toBe(401);
  });
});
