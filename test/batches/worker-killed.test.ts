import { sql } from 'drizzle-orm';
import { afterEach, expect, it } from 'vitest';
import { rowsOf } from '../../src/db/client.js';
import { reply } from '../fakes/llm-server.js';
import { createTestEnv, type TestEnv } from '../support/context.js';
import { spawnEntry, type Proc } from '../support/spawn.js';
import { llmAndReceiverPerFile, until, verifyStandardWebhook } from '../support/webhook-receiver.js';

const f = llmAndReceiverPerFile();
let t: TestEnv;
const procs: Proc[] = [];

afterEach(async () => {
  for (const p of procs.splice(0)) p.child.kill('SIGKILL');
  await t?.close();
});

it('a worker killed with SIGKILL mid-batch loses nothing: another finishes every item, one result each, batch.completed once', async () => {
  t = await createTestEnv({
    ANTHROPIC_API_KEY: 'sk-ant-test', ANTHROPIC_BASE_URL: f.llm.anthropicBaseUrl, WEBHOOK_ALLOW_PRIVATE: 'true',
    WORKER_LOCK_DURATION_MS: '1000', WORKER_STALLED_INTERVAL_MS: '500', WORKER_CONCURRENCY: '5', LOG_LEVEL: 'info',
  });
  f.llm.calls.length = 0;
  f.llm.setDefault(reply.slow(100, reply.ok('done')));
  const created = (await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: t.admin, payload: { name: 'k', tier: 'enterprise' } })).json();
  const auth = { authorization: `Bearer ${created.key}` };
  const secret = (await t.app.inject({ method: 'POST', url: `/v1/api-keys/${created.id}/webhook-secret`, headers: auth })).json().secret;
  const tpl = (await t.app.inject({ method: 'POST', url: '/v1/templates', headers: auth, payload: { name: 't', body: 'Item {{n}}', provider: 'anthropic' } })).json().id;
  const start = async () => {
    const p = spawnEntry('workers/main.ts', { ...t.env, WORKER_METRICS_PORT: '0' });
    procs.push(p);
    await p.waitFor(/worker started/);
    return p;
  };

  const a = await start();
  const batch = (await t.app.inject({ method: 'POST', url: '/v1/batches', headers: auth, payload: {
    templateId: tpl, items: Array.from({ length: 100 }, (_, n) => ({ variables: { n } })), webhook: { url: `${f.receiver.url}/done` },
  } })).json();
  await until(() => f.llm.calls.length >= 20, 30_000, 'the first worker to be mid-batch');
  a.child.kill('SIGKILL');
  expect(await a.exited).toBe('SIGKILL');
  await start();

  let b = batch;
  await until(async () => (b = (await t.app.inject({ method: 'GET', url: `/v1/batches/${batch.id}`, headers: auth })).json()).completedAt !== null, 60_000, 'the batch');
  expect(b).toMatchObject({ status: 'completed', counts: { completed: 100, dead: 0 } });
  const res = await t.database.db.execute(sql`select count(*)::int as n, count(distinct input_hash)::int as inputs from generations where status = 'completed'`);
  expect(rowsOf<{ n: number; inputs: number }>(res)[0]).toEqual({ n: 100, inputs: 100 });
  // Calls the killed worker had in flight are made again; nothing else is.
  expect(new Set(f.llm.calls.map((c) => c.prompt)).size).toBe(100);
  expect(f.llm.calls.length).toBeLessThanOrEqual(100 + 5 + 1);
  await until(() => f.receiver.received.length >= 1, 10_000, 'batch.completed');
  await new Promise((r) => setTimeout(r, 500));
  expect(f.receiver.received).toHaveLength(1);
  expect(verifyStandardWebhook(secret, f.receiver.received[0]!.headers, f.receiver.received[0]!.body)).toBe(true);
}, 120_000);
