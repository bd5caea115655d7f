import { eq } from 'drizzle-orm';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { apiKeys } from '../../src/db/schema.js';
import { createTestEnv, openApp, type OpenApp, type TestEnv } from '../support/context.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

let t: TestEnv | undefined;
let second: OpenApp | undefined;
let redisServer: RedisServer | undefined;
afterEach(async () => {
  await second?.close();
  await t?.close();
  await redisServer?.kill();
  second = t = redisServer = undefined;
});

const H = (key: string) => ({ authorization: `Bearer ${key}` });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function newKey(env: TestEnv, extra: Record<string, unknown> = {}) {
  const res = await env.app.inject({ method: 'POST', url: '/v1/api-keys', headers: env.admin, payload: { name: 'k', ...extra } });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; key: string; prefix: string };
}

describe('key lifecycle', () => {
  it('keys are pl_live_ secrets; the list shows prefix, role, dates and never the secret or its hash', async () => {
    t = await createTestEnv();
    const k = await newKey(t, { role: 'member' });
    expect(k.key).toMatch(/^pl_live_[A-Za-z0-9_-]{43}$/);
    expect((await t.app.inject({ method: 'GET', url: '/v1/templates', headers: H(k.key) })).statusCode).toBe(200);
    const list = await t.app.inject({ method: 'GET', url: '/v1/api-keys', headers: t.admin });
    const row = list.json().data.find((r: { id: string }) => r.id === k.id);
    expect(row).toMatchObject({ prefix: k.key.slice(0, 12), role: 'member', projectId: 'default', revokedAt: null, expiresAt: null });
    expect(list.body).not.toContain(k.key);
    expect(list.body).not.toMatch(/hash/i);
    await sleep(50); // last_used_at is written without holding the request
    const [stored] = await t.database.db.select({ lastUsedAt: apiKeys.lastUsedAt }).from(apiKeys).where(eq(apiKeys.id, k.id));
    expect(stored!.lastUsedAt).toBeInstanceOf(Date);
  });

  it('a revocation is seen by a second API process within one second, through the bus', async () => {
    t = await createTestEnv();
    second = await openApp(t.config);
    const k = await newKey(t);
    // Both processes have the key cached as valid.
    for (const app of [t.app, second.app]) expect((await app.inject({ method: 'GET', url: '/v1/templates', headers: H(k.key) })).statusCode).toBe(200);
    const revoked = await t.app.inject({ method: 'DELETE', url: `/v1/api-keys/${k.id}`, headers: t.admin });
    const at = Date.now();
    expect(revoked.json().revokedAt).toEqual(expect.any(String));
    let status = 200;
    while (status === 200 && Date.now() - at < 1000) {
      status = (await second.app.inject({ method: 'GET', url: '/v1/templates', headers: H(k.key) })).statusCode;
      if (status === 200) await sleep(10);
    }
    expect(status).toBe(401);
    // Well inside the key cache's one-second TTL: the bus carried it, not the expiry.
    expect(Date.now() - at).toBeLessThan(500);
    expect((await t.app.inject({ method: 'GET', url: '/v1/templates', headers: H(k.key) })).statusCode).toBe(401);
  });

  it('a key revoked or deleted in SQL, with no bus message at all, is refused by every process within a second (the key cache\'s TTL)', async () => {
    t = await createTestEnv();
    second = await openApp(t.config);
    const [revoked, deleted] = [await newKey(t), await newKey(t)];
    for (const app of [t.app, second.app]) {
      for (const k of [revoked, deleted]) expect((await app.inject({ method: 'GET', url: '/v1/templates', headers: H(k.key) })).statusCode).toBe(200);
    }
    // What a process cut off from Redis leaves behind: the row changed, nothing published.
    await t.database.db.update(apiKeys).set({ revokedAt: new Date() }).where(eq(apiKeys.id, revoked.id));
    await t.database.db.delete(apiKeys).where(eq(apiKeys.id, deleted.id));
    const at = Date.now();
    const refusedEverywhere = async () => {
      for (const app of [t!.app, second!.app]) {
        for (const k of [revoked, deleted]) if ((await app.inject({ method: 'GET', url: '/v1/templates', headers: H(k.key) })).statusCode !== 401) return false;
      }
      return true;
    };
    while (!(await refusedEverywhere()) && Date.now() - at < 3000) await sleep(20);
    expect(await refusedEverywhere()).toBe(true);
    expect(Date.now() - at).toBeLessThan(1500);
  });

  it('a key used less than once a second waits for no Postgres read: its copy is kept fresh in the background, one statement for every cached key', async () => {
    t = await createTestEnv();
    const [a, b] = [await newKey(t), await newKey(t)];
    const get = (key: string) => t!.app.inject({ method: 'GET', url: '/v1/templates', headers: H(key) }).then((r) => r.statusCode);
    expect([await get(a.key), await get(b.key)]).toEqual([200, 200]);
    // Every statement on the keys table from here on, counted where node-postgres sends them.
    const sent: string[] = [];
    const query = pg.Client.prototype.query;
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string }).text ?? '';
      if (text.includes('"api_keys"') && !text.startsWith('update')) sent.push(text);
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof query;
    try {
      for (let i = 0; i < 3; i++) {
        await sleep(1200); // longer than the copy's second
        const before = sent.length;
        expect([await get(a.key), await get(b.key)]).toEqual([200, 200]);
        expect(sent.slice(before).filter((q) => q.includes('"key_hash" = $'))).toEqual([]); // no read of one key while a request waits
      }
      expect(sent.length).toBeGreaterThanOrEqual(4); // the background re-reads, both keys in each
      expect(sent.every((q) => q.includes('"key_hash" = any($1::text[])'))).toBe(true);
    } finally {
      pg.Client.prototype.query = query;
    }
  });

  it('with Redis down, a key revoked in one process is refused by another at once (it re-reads Postgres while its bus is deaf)', async () => {
    redisServer = await startRedisServer();
    t = await createTestEnv({ REDIS_URL: redisServer.url, RATE_LIMIT_FAIL_OPEN: 'true' });
    second = await openApp(t.config);
    const k = await newKey(t);
    const other = await newKey(t);
    for (const app of [t.app, second.app]) expect((await app.inject({ method: 'GET', url: '/v1/templates', headers: H(k.key) })).statusCode).toBe(200);
    await redisServer.kill();
    await sleep(300); // both subscribers notice the connection is gone
    expect((await t.app.inject({ method: 'DELETE', url: `/v1/api-keys/${k.id}`, headers: t.admin })).statusCode).toBe(200);
    expect((await second.app.inject({ method: 'GET', url: '/v1/templates', headers: H(k.key) })).statusCode).toBe(401);
    // Other keys keep working from Postgres meanwhile.
    expect((await second.app.inject({ method: 'GET', url: '/v1/templates', headers: H(other.key) })).statusCode).toBe(200);
  });

  it('rotation: the new secret works at once, the old one for the grace period, then never; graceSeconds 0 ends it at once', async () => {
    t = await createTestEnv();
    const k = await newKey(t);
    const get = (key: string) => t!.app.inject({ method: 'GET', url: '/v1/templates', headers: H(key) }).then((r) => r.statusCode);
    expect(await get(k.key)).toBe(200);
    const rotated = await t.app.inject({ method: 'POST', url: `/v1/api-keys/${k.id}/rotate`, headers: t.admin, payload: { graceSeconds: 1 } });
    expect(rotated.statusCode, rotated.body).toBe(200);
    const { key: fresh, previousKeyValidUntil, prefix } = rotated.json();
    expect(fresh).not.toBe(k.key);
    expect(prefix).toBe(fresh.slice(0, 12));
    expect(new Date(previousKeyValidUntil).getTime()).toBeGreaterThan(Date.now());
    expect([await get(fresh), await get(k.key)]).toEqual([200, 200]);
    await sleep(new Date(previousKeyValidUntil).getTime() - Date.now() + 50);
    expect([await get(fresh), await get(k.key)]).toEqual([200, 401]);

    const again = (await t.app.inject({ method: 'POST', url: `/v1/api-keys/${k.id}/rotate`, headers: t.admin, payload: { graceSeconds: 0 } })).json();
    expect([await get(again.key), await get(fresh)]).toEqual([200, 401]);
    // A revoked key cannot be rotated back to life, and revocation ends its old secret too.
    await t.app.inject({ method: 'DELETE', url: `/v1/api-keys/${k.id}`, headers: t.admin });
    expect((await t.app.inject({ method: 'POST', url: `/v1/api-keys/${k.id}/rotate`, headers: t.admin, payload: {} })).statusCode).toBe(404);
    expect(await get(again.key)).toBe(401);
  });

  it('keys issued before pl_live_ (pl_…) keep working', async () => {
    t = await createTestEnv();
    const k = await newKey(t);
    const legacy = `pl_${'A'.repeat(43)}`;
    const { hashKey } = await import('../../src/auth/secret.js');
    await t.database.db.update(apiKeys).set({ keyHash: hashKey(legacy), prefix: null }).where(eq(apiKeys.id, k.id));
    expect((await t.app.inject({ method: 'GET', url: '/v1/templates', headers: H(legacy) })).statusCode).toBe(200);
  });

  it('a project admin manages its own project\'s keys only, and cannot raise its tier or models', async () => {
    t = await createTestEnv();
    const p = (await t.app.inject({ method: 'POST', url: '/v1/projects', headers: t.admin, payload: { name: 'P' } })).json().id;
    const admin = await newKey(t, { projectId: p, tier: 'free', allowedModels: ['fake/*'] });
    const made = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: H(admin.key), payload: { name: 'm', role: 'member' } });
    expect(made.json()).toMatchObject({ projectId: p, tier: 'free', allowedModels: ['fake/*'], role: 'member' });
    const higher = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: H(admin.key), payload: { name: 'x', tier: 'enterprise' } });
    expect([higher.statusCode, higher.json().error.code]).toEqual([403, 'forbidden']);
    const models = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: H(admin.key), payload: { name: 'x', allowedModels: ['*'] } });
    expect([models.statusCode, models.json().error.code]).toEqual([403, 'forbidden']);
    const own = await t.app.inject({ method: 'PATCH', url: `/v1/api-keys/${admin.id}`, headers: H(admin.key), payload: { budgets: [] } });
    expect([own.statusCode, own.json().error.code]).toEqual([403, 'forbidden']);
    const listed = (await t.app.inject({ method: 'GET', url: '/v1/api-keys', headers: H(admin.key) })).json().data.map((k: { projectId: string }) => k.projectId);
    expect(new Set(listed)).toEqual(new Set([p]));
  });

  it('a project admin cannot lift its own budget through a key it makes: a new key gets at most its budgets, period by period', async () => {
    t = await createTestEnv();
    const p = (await t.app.inject({ method: 'POST', url: '/v1/projects', headers: t.admin, payload: { name: 'P' } })).json().id;
    const admin = await newKey(t, { projectId: p, budgets: [{ usd: 1, period: 'day' }] });
    // A sibling admin key asked for without a budget inherits the daily $1; one above it is refused, nothing made.
    const sibling = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: H(admin.key), payload: { name: 'sibling', role: 'admin' } });
    expect(sibling.statusCode).toBe(201);
    expect(sibling.json().budgets).toEqual([expect.objectContaining({ usd: 1, period: 'day' })]);
    const above = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: H(admin.key), payload: { name: 'big', budgets: [{ usd: 5, period: 'day' }] } });
    expect([above.statusCode, above.json().error.code]).toEqual([403, 'forbidden']);
    expect(above.json().error.message).toMatch(/at most its own budgets: its daily budget is \$1, not \$5/);
    // A monthly budget on top is the admin's to give; a lower daily one too.
    const lower = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: H(admin.key), payload: { name: 'low', budgets: [{ usd: 0.5, period: 'day' }, { usd: 3, period: 'month' }] } });
    expect(lower.json().budgets.map((b: { usd: number; period: string }) => [b.period, b.usd])).toEqual([['day', 0.5], ['month', 3]]);
    // Nor by changing a key's budgets: removing them leaves the admin's.
    const cleared = await t.app.inject({ method: 'PATCH', url: `/v1/api-keys/${sibling.json().id}`, headers: H(admin.key), payload: { budgets: [] } });
    expect(cleared.json().budgets).toEqual([expect.objectContaining({ usd: 1, period: 'day' })]);
    // The admin key is the operator: it sets any budget.
    const byOperator = await t.app.inject({ method: 'PATCH', url: `/v1/api-keys/${sibling.json().id}`, headers: t.admin, payload: { budgets: [] } });
    expect(byOperator.json().budgets).toEqual([]);
  });
});
