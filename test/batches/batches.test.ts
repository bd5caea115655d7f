import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { rowsOf } from '../../src/db/client.js';
import { reply } from '../fakes/llm-server.js';
import { createTestEnv, openApp, type TestEnv } from '../support/context.js';
import { llmAndReceiverPerFile, until, verifyStandardWebhook } from '../support/webhook-receiver.js';

const f = llmAndReceiverPerFile();
let t: TestEnv;
let auth: Record<string, string>;
let keyId: string;

afterEach(async () => {
  await t?.close();
});

async function setup(key: Record<string, unknown> = {}) {
  t = await createTestEnv({
    ANTHROPIC_API_KEY: 'sk-ant-test', ANTHROPIC_BASE_URL: f.llm.anthropicBaseUrl, OPENAI_API_KEY: 'sk-openai-test', OPENAI_BASE_URL: f.llm.openaiBaseUrl,
    WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_RETRY_SCHEDULE_MS: '100',
    // A batch holds every item's worst case in the key's token window: room for the 2,000-item batch below.
    RATE_LIMIT_TPM_PRO: '10000000',
  });
  f.llm.setDefault(reply.ok());
  f.llm.calls.length = 0;
  const created = (await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: t.admin, payload: { name: 'batch', tier: 'pro', ...key } })).json();
  auth = { authorization: `Bearer ${created.key}` };
  keyId = created.id;
  const tpl = await t.app.inject({ method: 'POST', url: '/v1/templates', headers: auth, payload: { name: 't', body: 'About {{topic}}', provider: 'anthropic' } });
  return tpl.json().id as string;
}

const submit = (payload: Record<string, unknown>) => t.app.inject({ method: 'POST', url: '/v1/batches', headers: auth, payload });
const getBatch = async (id: string) => (await t.app.inject({ method: 'GET', url: `/v1/batches/${id}`, headers: auth })).json();
async function settled(id: string, ms = 60_000) {
  let b = await getBatch(id);
  await until(async () => (b = await getBatch(id)).completedAt !== null, ms, `batch ${id} to complete`);
  return b;
}
async function results(id: string) {
  const res = await t.app.inject({ method: 'GET', url: `/v1/batches/${id}/results`, headers: auth });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toMatch(/^application\/jsonl/);
  return res.body.trimEnd().split('\n').map((l) => JSON.parse(l));
}
async function count(table: string): Promise<number> {
  return rowsOf<{ n: number }>(await t.database.db.execute(sql.raw(`select count(*)::int as n from ${table}`)))[0]!.n;
}

describe('batches', () => {
  it('2,000 items with duplicates and cached inputs: one provider call per unique uncached input, results in order, batch.completed signed', async () => {
    const tpl = await setup();
    const secret = (await t.app.inject({ method: 'POST', url: `/v1/api-keys/${keyId}/webhook-secret`, headers: auth })).json().secret;
    t.worker();
    // 100 inputs answered first: they are cached for the big batch.
    const warm = await submit({ templateId: tpl, items: Array.from({ length: 100 }, (_, i) => ({ variables: { topic: `t${i}` } })) });
    expect(warm.statusCode).toBe(201);
    await settled(warm.json().id);
    expect(f.llm.calls).toHaveLength(100);
    f.llm.calls.length = 0;

    // 2,000 items over 800 topics (t0…t799): t0…t99 cached, 700 to generate.
    const items = Array.from({ length: 2000 }, (_, i) => ({ variables: { topic: `t${(i * 7) % 800}` }, customId: `c${i}` }));
    const res = await submit({ templateId: tpl, items, webhook: { url: `${f.receiver.url}/batch` } });
    expect(res.statusCode).toBe(201);
    const created = res.json();
    const cachedItems = items.filter((it) => Number(it.variables.topic.slice(1)) < 100).length;
    expect(created).toMatchObject({ object: 'batch', total: 2000, status: 'in_progress', counts: { cached: cachedItems }, webhook: { url: `${f.receiver.url}/batch`, events: ['batch.completed'] } });

    const done = await settled(created.id);
    expect(done).toMatchObject({ status: 'completed', counts: { completed: 2000, dead: 0, cached: cachedItems }, progress: { settled: 2000, total: 2000, percent: 100 } });
    expect(f.llm.calls).toHaveLength(700);
    expect(await count(`generations where batch_id = '${created.id}'`)).toBe(700);

    const lines = await results(created.id);
    expect(lines.map((l) => l.index)).toEqual(items.map((_, i) => i));
    expect(lines.map((l) => l.customId)).toEqual(items.map((it) => it.customId));
    const byTopic = new Map<string, string>();
    for (const [i, l] of lines.entries()) {
      const topic = items[i]!.variables.topic;
      expect(l).toMatchObject({ status: 'completed', result: { text: expect.any(String) }, usage: { totalTokens: expect.any(Number) }, cached: Number(topic.slice(1)) < 100 });
      if (l.cached) expect(l.costUsd).toBe(0);
      expect(byTopic.get(topic) ?? l.jobId).toBe(l.jobId);
      byTopic.set(topic, l.jobId);
    }
    expect(new Set(lines.map((l) => l.jobId)).size).toBe(800);

    await until(() => f.receiver.received.length >= 1, 10_000, 'batch.completed');
    const hook = f.receiver.received[0]!;
    expect(verifyStandardWebhook(secret, hook.headers, hook.body)).toBe(true);
    expect(JSON.parse(hook.body)).toMatchObject({ id: created.id, object: 'batch', status: 'completed', counts: { completed: 2000 } });
    await new Promise((r) => setTimeout(r, 300));
    expect(f.receiver.received).toHaveLength(1);
  }, 120_000);

  it('a batch racing single requests for the same inputs in another API process: one provider call per input, whoever admits it', async () => {
    const tpl = await setup({ tier: 'enterprise' });
    f.llm.setDefault(reply.slow(20));
    const second = await openApp(t.config);
    try {
      t.worker();
      // Both processes warmed (pools connected, template and key cached), so neither side's first request is its slowest.
      await Promise.all([t.app, second.app].map((app) => app.inject({ method: 'GET', url: `/v1/templates/${tpl}`, headers: auth })));
      // 300 inputs: the other process sends each single request twice, staggered over 0–400 ms (and again 20 ms later: a
      // loaded machine once took longer than a 150 ms spread to start the batch, and the singles admitted every input first);
      // the batch sends each once, 50 ms in, or once the singles admitted their first (a loaded machine may start them late).
      const topics = Array.from({ length: 300 }, (_, i) => `r${i}`);
      const firstSingle = until(async () => (await count(`generations where batch_id is null`)) > 0, 30_000, 'a single request admitted');
      const batch = Promise.all([new Promise((r) => setTimeout(r, 50)), firstSingle])
        .then(() => submit({ templateId: tpl, items: topics.map((topic) => ({ variables: { topic } })) }));
      const singles = topics.flatMap((topic, i) => [0, 1].map(async (n) => {
        await new Promise((r) => setTimeout(r, (i % 100) * 4 + n * 20));
        const res = await second.app.inject({ method: 'POST', url: '/v1/generate', headers: auth, payload: { templateId: tpl, variables: { topic } } });
        expect([200, 202], res.body).toContain(res.statusCode);
        return res.json().jobId as string;
      }));
      const created = await batch;
      expect(created.statusCode, created.body).toBe(201);
      const jobIds = await Promise.all(singles);
      await settled(created.json().id);
      // Counted at the source: the fake provider's calls and the generations in Postgres.
      await until(async () => (await count(`generations where status in ('queued', 'active', 'failed')`)) === 0, 30_000, 'every generation to settle');
      expect(f.llm.calls).toHaveLength(300);
      expect(await count(`generations where template_id = '${tpl}'`)).toBe(300);
      // The race happened: each side admitted some of the inputs first (else this proves nothing).
      const bySingles = await count(`generations where template_id = '${tpl}' and batch_id is null`);
      expect([bySingles > 0, bySingles < 300], `${bySingles} of 300 admitted by single requests`).toEqual([true, true]);
      const lines = await results(created.json().id);
      const byTopic = new Map(lines.map((l, i) => [topics[i]!, l.jobId as string]));
      // Every single request got the generation that answers its input, the batch's or its own.
      for (const [i, id] of jobIds.entries()) expect(id).toBe(byTopic.get(topics[Math.floor(i / 2)]!));
    } finally {
      await second.close();
    }
  }, 120_000);

  it('Idempotency-Key: a repeat with the same items answers the first batch and admits nothing; other items are a 422', async () => {
    const tpl = await setup();
    const payload = { templateId: tpl, items: Array.from({ length: 30 }, (_, i) => ({ variables: { topic: `i${i}` } })) };
    const post = (body: unknown) => t.app.inject({ method: 'POST', url: '/v1/batches', headers: { ...auth, 'idempotency-key': 'nightly-2026-11-29' }, payload: body as object });
    const first = await post(payload);
    expect(first.statusCode, first.body).toBe(201);
    const again = await post(payload);
    expect([again.statusCode, again.headers['idempotent-replayed'], again.json().id]).toEqual([201, 'true', first.json().id]);
    // Counted at the source: one batch, 30 generations, 30 jobs.
    expect([await count('batches'), await count('generations'), await t.queues.generation.count()]).toEqual([1, 30, 30]);
    const other = await post({ ...payload, items: payload.items.slice(1) });
    expect([other.statusCode, other.json().error.code]).toEqual([422, 'idempotency_key_reused']);
    expect(await count('batches')).toBe(1);
  });

  it('GET /v1/batches lists the project\'s batches newest first, a page at a time', async () => {
    const tpl = await setup();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await submit({ templateId: tpl, items: [{ variables: { topic: `l${i}` } }] })).json().id);
    const first = (await t.app.inject({ method: 'GET', url: '/v1/batches?limit=2', headers: auth })).json();
    expect(first.data.map((b: { id: string }) => b.id)).toEqual([ids[2], ids[1]]);
    expect(first.data[0]).toMatchObject({ object: 'batch', total: 1, counts: { queued: 1 } });
    const second = (await t.app.inject({ method: 'GET', url: `/v1/batches?limit=2&cursor=${first.nextCursor}`, headers: auth })).json();
    expect([second.data.map((b: { id: string }) => b.id), second.nextCursor]).toEqual([[ids[0]], null]);
    const jobCursor = Buffer.from(`${new Date().toISOString()}|gen_x`).toString('base64url');
    expect((await t.app.inject({ method: 'GET', url: `/v1/batches?cursor=${jobCursor}`, headers: auth })).statusCode).toBe(400);
  });

  it('a batch item is the same input as the single request it mirrors (one rule picks provider and model): it joins that job', async () => {
    await setup();
    // No provider on the template: both paths run it on the default provider and model alike.
    const tpl = (await t.app.inject({ method: 'POST', url: '/v1/templates', headers: auth, payload: { name: 'm', body: 'About {{topic}}', model: 'claude-sonnet-4-5' } })).json().id;
    const single = (await t.app.inject({ method: 'POST', url: '/v1/generate', headers: auth, payload: { templateId: tpl, variables: { topic: 'same' } } })).json();
    const batch = await submit({ templateId: tpl, items: [{ variables: { topic: 'same' } }] });
    expect(batch.statusCode, batch.body).toBe(201);
    const [line] = await results(batch.json().id);
    expect(line.jobId).toBe(single.jobId);
    expect(await count(`generations where template_id = '${tpl}'`)).toBe(1);
  });

  it('a batch holds its items in the key\'s token window like single requests: too big a batch is a 429 whole, nothing stored; an item larger than a single request is a 413', async () => {
    const tpl = await setup({ tier: 'free' }); // RATE_LIMIT_TPM_FREE: 20,000 tokens per window
    const res = await submit({ templateId: tpl, items: Array.from({ length: 10_000 }, (_, i) => ({ variables: { topic: `t${i}` } })) });
    expect(res.statusCode).toBe(429);
    expect(res.json().error).toMatchObject({ code: 'rate_limited', details: { dimension: 'tokens', limit: 20_000 } });
    expect([await count('generations'), await count('batches'), await count('input_slots')]).toEqual([0, 0, 0]);
    // The window held nothing for it: a batch that fits goes through.
    const small = await submit({ templateId: tpl, items: Array.from({ length: 10 }, (_, i) => ({ variables: { topic: `s${i}` } })) });
    expect(small.statusCode).toBe(201);

    const huge = 'x'.repeat(1024 * 1024);
    const big = await submit({ templateId: tpl, items: [{ variables: { topic: 'fine' } }, { variables: { topic: huge } }] });
    expect(big.statusCode).toBe(413);
    expect(big.json().error).toMatchObject({ code: 'payload_too_large', details: { items: [{ index: 1 }] } });
    const chat = await submit({ requests: [{ body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: huge }] } }] });
    expect(chat.statusCode).toBe(413);
    expect(await count('generations')).toBe(10);
  });

  it('a batch whose worst case does not fit the budget is refused whole (402): nothing stored or enqueued', async () => {
    // claude-haiku-4-5 at $1/$5 per MTok: an item's worst case is about 1024 × $5e-6 ≈ $0.0052.
    const tpl = await setup({ budgets: [{ usd: 0.02, period: 'day' }] });
    const res = await submit({ templateId: tpl, items: Array.from({ length: 5 }, (_, i) => ({ variables: { topic: `b${i}` } })) });
    expect(res.statusCode).toBe(402);
    expect(res.json().error.code).toBe('budget_exceeded');
    expect([await count('generations'), await count('batches'), await count('batch_items'), await count('input_slots')]).toEqual([0, 0, 0, 0]);
    expect(await t.queues.generation.count()).toBe(0);
    const key = (await t.app.inject({ method: 'GET', url: `/v1/api-keys/${keyId}`, headers: t.admin })).json();
    expect(key.budgets[0]).toMatchObject({ reservedUsd: 0, spentUsd: 0 });

    // Three fit; duplicates inside a batch are held once.
    const ok = await submit({ templateId: tpl, items: Array.from({ length: 9 }, (_, i) => ({ variables: { topic: `b${i % 3}` } })) });
    expect(ok.statusCode).toBe(201);
    expect(await count('generations')).toBe(3);
  });

  it('chat requests in the OpenAI format, deduplicated like template items; per-job webhooks when asked', async () => {
    await setup();
    await t.app.inject({ method: 'POST', url: `/v1/api-keys/${keyId}/webhook-secret`, headers: auth });
    t.worker();
    const body = (content: string) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] });
    const res = await submit({
      requests: [{ customId: 'a', body: body('one') }, { customId: 'b', body: body('two') }, { customId: 'c', body: body('one') }],
      webhook: { url: `${f.receiver.url}/chat`, events: ['completed', 'batch.completed'] },
    });
    expect(res.statusCode).toBe(201);
    await settled(res.json().id);
    await until(() => f.receiver.received.length >= 3, 10_000, 'two job messages and the batch message');
    const bodies = f.receiver.received.map((r) => JSON.parse(r.body));
    expect(bodies.filter((b) => b.object === 'batch')).toHaveLength(1);
    expect(bodies.filter((b) => b.status === 'completed' && b.id.startsWith('gen_'))).toHaveLength(2);
    expect(f.llm.calls.filter((c) => c.dialect === 'openai')).toHaveLength(2);
    const lines = await results(res.json().id);
    expect(lines.map((l) => [l.customId, l.status])).toEqual([['a', 'completed'], ['b', 'completed'], ['c', 'completed']]);
    expect(lines[0].jobId).toBe(lines[2].jobId);
    const job = (await t.app.inject({ method: 'GET', url: `/v1/jobs/${lines[0].jobId}`, headers: auth })).json();
    expect(job.batchId).toBe(res.json().id);
  });

  it('cancel: queued items are removed from the queue and end canceled, each with its canceled webhook; their inputs can be admitted again', async () => {
    const tpl = await setup();
    const secret = (await t.app.inject({ method: 'POST', url: `/v1/api-keys/${keyId}/webhook-secret`, headers: auth })).json().secret;
    const webhook = { url: `${f.receiver.url}/cancel`, events: ['canceled', 'batch.completed'] };
    const res = await submit({ templateId: tpl, items: Array.from({ length: 20 }, (_, i) => ({ variables: { topic: `x${i}` } })), webhook });
    const id = res.json().id;
    expect(await t.queues.generation.count()).toBe(20);
    const canceled = await t.app.inject({ method: 'POST', url: `/v1/batches/${id}/cancel`, headers: auth });
    expect(canceled.statusCode).toBe(200);
    expect(canceled.json()).toMatchObject({ status: 'canceled', counts: { canceled: 20, dead: 0, queued: 0 }, canceledAt: expect.any(String), completedAt: expect.any(String) });
    expect(await t.queues.generation.count()).toBe(0);
    const lines = await results(id);
    expect(lines.every((l) => l.status === 'canceled' && l.error.code === 'canceled')).toBe(true);
    t.worker();
    // 20 job messages (status canceled) and the batch's, each signed; none for events not asked for.
    await until(() => f.receiver.received.length >= 21, 10_000, 'the cancel webhooks');
    const bodies = f.receiver.received.map((r) => { expect(verifyStandardWebhook(secret, r.headers, r.body)).toBe(true); return JSON.parse(r.body); });
    expect(bodies.filter((b) => b.object === 'batch').map((b) => b.status)).toEqual(['canceled']);
    expect(new Set(bodies.filter((b) => b.object !== 'batch').map((b) => b.status))).toEqual(new Set(['canceled']));
    expect(bodies.filter((b) => b.object !== 'batch')).toHaveLength(20);
    const again = await submit({ templateId: tpl, items: [{ variables: { topic: 'x0' } }] });
    await settled(again.json().id);
    expect(f.llm.calls).toHaveLength(1);
  });

  it('a key of another project cannot read a batch (404), one of its own project and the admin key can; bad items are a 400 naming them', async () => {
    const tpl = await setup();
    const id = (await submit({ templateId: tpl, items: [{ variables: { topic: 'mine' } }] })).json().id;
    const project = (await t.app.inject({ method: 'POST', url: '/v1/projects', headers: t.admin, payload: { name: 'elsewhere' } })).json().id;
    const created = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: t.admin, payload: { name: 'other', projectId: project } });
    const other = { authorization: `Bearer ${created.json().key}` };
    expect((await t.app.inject({ method: 'GET', url: `/v1/batches/${id}`, headers: await t.keyHeader('pro', 'member') })).statusCode).toBe(200);
    for (const url of [`/v1/batches/${id}`, `/v1/batches/${id}/results`]) {
      expect((await t.app.inject({ method: 'GET', url, headers: other })).statusCode).toBe(404);
      expect((await t.app.inject({ method: 'GET', url, headers: t.admin })).statusCode).toBe(200);
    }
    expect((await t.app.inject({ method: 'POST', url: `/v1/batches/${id}/cancel`, headers: other })).statusCode).toBe(404);
    const bad = await submit({ templateId: tpl, items: [{ variables: { topic: 'ok' } }, { variables: {} }, { variables: { topic: 'x', extra: 1 } }] });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.details.items).toEqual([{ index: 1, missing: ['topic'] }, { index: 2, unknown: ['extra'] }]);
  });
});
