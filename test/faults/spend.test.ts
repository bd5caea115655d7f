import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reply } from '../fakes/llm-server.js';
import { sleep, startCluster, type Cluster } from './cluster.js';

let c: Cluster;
beforeAll(async () => {
  c = await startCluster({ apis: 2, workers: 2, env: { WORKER_LOCK_DURATION_MS: '1000', WORKER_STALLED_INTERVAL_MS: '500', USAGE_FLUSH_MS: '200' } });
}, 90_000);
afterAll(() => c?.close());

type Sums = { cost: string; input: string; output: string };

describe('spend is exact whatever dies', () => {
  it('after two worker SIGKILLs mid-run, usage_daily equals the sum over generations, to the nano-dollar', async () => {
    const { auth, templateId } = await c.tenant('Spend: {{topic}}', { outputSchema: { type: 'object', required: ['ok'] } });
    // Every third answer is not JSON: a failed attempt the provider still charged, then retried.
    c.llm.setDefault(reply.slow(150, reply.ok('{"ok":true}', { inputTokens: 321, outputTokens: 123 })));
    const bad = reply.slow(150, reply.ok('not json', { inputTokens: 111, outputTokens: 7 }));
    c.llm.script(...Array.from({ length: 30 }, (_, i) => (i % 3 === 0 ? bad : reply.slow(150, reply.ok('{"ok":true}', { inputTokens: 321, outputTokens: 123 })))));
    const sent = Array.from({ length: 60 }, (_, i) => c.post(i % 2, '/v1/generate', auth, { templateId, variables: { topic: `t${i}` } }));
    for (let kill = 0; kill < 2; kill++) {
      await sleep(400);
      await c.killWorker(c.workers[0]!);
      await c.startWorker();
    }
    expect((await Promise.all(sent)).every((a) => a.status === 202)).toBe(true);
    const counts = await c.settled(templateId, 60_000);
    expect((counts.completed ?? 0) + (counts.dead ?? 0)).toBe(60);

    const [rows] = await c.sql<Sums>(`select sum(cost_usd)::text as cost, sum(input_tokens)::text as input, sum(output_tokens)::text as output
      from generations where template_id = $1`, [templateId]);
    const [usage] = await c.sql<Sums>(`select sum(cost_usd)::text as cost, sum(input_tokens)::text as input, sum(output_tokens)::text as output
      from usage_daily where template_id = $1`, [templateId]);
    expect(Number(rows!.cost)).toBeGreaterThan(0);
    expect(usage).toEqual(rows);
    // Each provider call is paid once on the record: the calls the fake server answered with usage, priced.
    expect(Number(rows!.input)).toBeLessThanOrEqual(c.llm.calls.length * 321);
  }, 180_000);

  it('requests rejected with a 4xx are not counted as requests', async () => {
    const { auth, templateId } = await c.tenant('Counted: {{topic}}');
    const ok = await c.post(0, '/v1/generate?wait=10', auth, { templateId, variables: { topic: 'x' } });
    expect(ok.status).toBe(200);
    for (const variables of [{}, { topic: 'x', extra: 1 }, { topic: 'nul \u0000' }]) {
      expect((await c.post(0, '/v1/generate', auth, { templateId, variables })).status).toBe(400);
    }
    await c.until('requests flushed', async () => (await c.sql<{ n: string }>('select coalesce(sum(requests), 0)::text as n from usage_daily where template_id = $1', [templateId]))[0]!.n, (n) => n === '1', 5000);
    await sleep(500); // a later flush adds nothing
    expect((await c.sql<{ n: string }>('select sum(requests)::text as n from usage_daily where template_id = $1', [templateId]))[0]!.n).toBe('1');
  }, 60_000);
});
