import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { priceFor } from '../../src/providers/prices.js';
import { worstCaseUsd } from '../../src/spend/budgets.js';
import { reply } from '../fakes/llm-server.js';
import { REDIS_URL } from '../support/context.js';
import { sleep, startCluster, type Cluster } from './cluster.js';

let c: Cluster;
beforeAll(async () => {
  c = await startCluster({ apis: 2, workers: 2, env: { SWEEP_INTERVAL_MS: '1000', JOB_BACKOFF_MS: '50' } });
}, 90_000);
afterAll(() => c?.close());

describe('a budget is a hard limit across processes', () => {
  it('200 concurrent distinct requests over 2 API and 2 worker processes, Redis flushed mid-run: at most 10 paid calls, spend within the budget', async ({ annotate }) => {
    const worst = worstCaseUsd(priceFor('anthropic', 'claude-haiku-4-5'), { messages: [{ role: 'user', content: 'Budget: t000' }], params: { maxTokens: 1000 } });
    const budget = worst * 10 + 1e-9;
    const key = await c.post(0, '/v1/api-keys', { authorization: `Bearer ${c.env.PROMPTLAB_ADMIN_KEY}` }, { name: 'b', tier: 'enterprise', budgets: [{ usd: budget, period: 'day' }] });
    expect(key.status).toBe(201);
    const auth = { authorization: `Bearer ${key.body.key}` };
    const tpl = await c.post(0, '/v1/templates', auth, { name: 'b', body: 'Budget: {{topic}}', provider: 'anthropic', maxTokens: 1000 });
    // Slow answers, each costing close to the worst case: holds and spend overlap while Redis is flushed.
    c.llm.setDefault(reply.slow(300, reply.ok('spent', { inputTokens: 12, outputTokens: 990 })));
    const sent = Array.from({ length: 200 }, (_, i) => c.post(i % 2, '/v1/generate', auth, { templateId: tpl.body.id, variables: { topic: `t${String(i).padStart(3, '0')}` } }));
    await sleep(150);
    const r = new Redis(REDIS_URL);
    // the cluster's Redis state, gone mid-run (the hash-tagged keys too: events, BullMQ)
    for (const k of [...(await r.keys(`${c.env.REDIS_PREFIX}:*`)), ...(await r.keys(`{${c.env.REDIS_PREFIX}:*`))]) await r.del(k);
    r.disconnect();
    const answers = await Promise.all(sent);
    const byStatus: Record<number, number> = {};
    for (const a of answers) byStatus[a.status] = (byStatus[a.status] ?? 0) + 1;
    await annotate(`answers by status ${JSON.stringify(byStatus)}`, 'outcome');
    expect((byStatus[202] ?? 0) + (byStatus[402] ?? 0)).toBe(200);
    expect(byStatus[202]).toBeLessThanOrEqual(10);

    await c.settled(tpl.body.id, 60_000);
    expect(c.llm.calls.length).toBeLessThanOrEqual(10);
    const [spent] = await c.sql<{ cost: number; reserved: number }>(
      `select coalesce(sum(cost_usd), 0)::float8 as cost, (select coalesce(sum(reserved_usd), 0)::float8 from budget_usage where scope_id = $1) as reserved
       from generations where api_key_id = $1`, [key.body.id]);
    await annotate(`${c.llm.calls.length} provider calls, spent ${spent!.cost} of ${budget}`, 'outcome');
    expect(spent!.cost).toBeLessThanOrEqual(budget);
    expect(spent!.reserved).toBe(0);
    const [usage] = await c.sql<{ spent: number }>(`select spent_usd::float8 as spent from budget_usage where scope_id = $1`, [key.body.id]);
    expect(usage!.spent).toBeCloseTo(spent!.cost, 9);
  }, 180_000);
});
