import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { cachedFromRow } from '../src/cache/result-cache.js';
import { rowsOf } from '../src/db/client.js';
import { reply } from './fakes/llm-server.js';
import { llmEnvPerTest } from './support/llm-env.js';
import { waitForStatus } from './support/jobs.js';

/**
 * The moments between two writes of one generation: the row completed in
 * Postgres but the cache not yet written (or never: the worker died there),
 * a TTL running out, a death. Counted at the source: calls at the fake
 * server, rows in Postgres.
 */
const e = llmEnvPerTest({ ANTHROPIC_API_KEY: 'sk-ant-test', CACHE_LOCAL_TTL_MS: '0' });

async function template(extra: Record<string, unknown> = {}) {
  const res = await e.t.app.inject({ method: 'POST', url: '/v1/templates', headers: e.auth, payload: { name: 'sf', body: 'About {{topic}}', provider: 'anthropic', ...extra } });
  return res.json().id as string;
}
const generate = (templateId: string, topic: string, headers: Record<string, string> = {}) =>
  e.t.app.inject({ method: 'POST', url: '/v1/generate', headers: { ...e.auth, ...headers }, payload: { templateId, variables: { topic } } });
const count = async (q: string) => Number(rowsOf<{ n: string }>(await e.t.database.db.execute(sql.raw(q)))[0]!.n);
const dropCache = (hash: string) => e.t.redis.del(`${e.t.config.REDIS_PREFIX}:cache:${hash}`);

describe('one paid call per input, between the Postgres write and the cache write', () => {
  it('a completed row whose cache write never happened answers identical requests from Postgres, without a call', async () => {
    e.t.worker();
    const tpl = await template();
    const first = (await generate(tpl, 'boundary')).json();
    const done = await waitForStatus(e.t.app, e.auth, first.jobId, ['completed']);
    await dropCache(done.inputHash); // as if the worker died right after the Postgres write
    const again = await Promise.all(Array.from({ length: 20 }, () => generate(tpl, 'boundary')));
    expect(again.map((r) => r.statusCode)).toEqual(Array(20).fill(200));
    expect(new Set(again.map((r) => r.json().jobId))).toEqual(new Set([first.jobId]));
    expect(again[0]!.headers['x-cache-tier']).toBe('postgres');
    expect(e.llm.calls).toHaveLength(1);
    expect(await count('select count(*) as n from generations')).toBe(1);
  });

  it('requests staggered across a completion all share one generation', async () => {
    e.t.worker();
    e.llm.setDefault(reply.slow(60, reply.ok('once')));
    const tpl = await template();
    const sent: Promise<{ json(): { jobId: string }; statusCode: number }>[] = [];
    for (let i = 0; i < 40; i++) {
      sent.push(generate(tpl, 'stagger'));
      await new Promise((r) => setTimeout(r, 5)); // 40 requests over ~200 ms, across the 60 ms call and its writes
    }
    const answers = await Promise.all(sent);
    expect(answers.every((a) => a.statusCode === 200 || a.statusCode === 202)).toBe(true);
    expect(new Set(answers.map((a) => a.json().jobId)).size).toBe(1);
    expect(e.llm.calls).toHaveLength(1);
    expect(await count('select count(*) as n from generations')).toBe(1);
  });

  it('a result past its TTL, a dead generation and a no-cache refresh each open the input to one new generation', async () => {
    e.t.worker();
    const tpl = await template({ cacheTtlSeconds: 60 });
    const a = (await generate(tpl, 'ttl')).json();
    const done = await waitForStatus(e.t.app, e.auth, a.jobId, ['completed']);
    // The TTL runs out: the slot no longer answers, the next request pays once more.
    await e.t.database.db.execute(sql`update input_slots set expires_at = now() - interval '1 second' where input_hash = ${done.inputHash}`);
    await dropCache(done.inputHash);
    const b = (await Promise.all(Array.from({ length: 5 }, () => generate(tpl, 'ttl')))).map((r) => r.json());
    expect(new Set(b.map((r) => r.jobId)).size).toBe(1);
    expect(b[0]!.jobId).not.toBe(a.jobId);
    await waitForStatus(e.t.app, e.auth, b[0]!.jobId, ['completed']);
    expect(e.llm.calls).toHaveLength(2);

    // no-cache: a new generation even though a fresh result exists; identical no-cache requests join it.
    const c = (await Promise.all(Array.from({ length: 5 }, () => generate(tpl, 'ttl', { 'cache-control': 'no-cache' })))).map((r) => r.json());
    expect(new Set(c.map((r) => r.jobId)).size).toBe(1);
    await waitForStatus(e.t.app, e.auth, c[0]!.jobId, ['completed']);
    expect(e.llm.calls).toHaveLength(3);

    // A death opens the slot: the next identical request starts over.
    e.llm.script(reply.unauthorized());
    const other = (await generate(tpl, 'dies')).json();
    await waitForStatus(e.t.app, e.auth, other.jobId, ['dead']);
    const retry = (await generate(tpl, 'dies')).json();
    expect(retry.jobId).not.toBe(other.jobId);
    await waitForStatus(e.t.app, e.auth, retry.jobId, ['completed']);
    expect(await count(`select count(*) as n from input_slots where state = 'in_flight'`)).toBe(0);
  });

  it('one unstorable row in a concurrent admission batch fails alone', async () => {
    const tpl = await template();
    // Straight at the ledger (the HTTP edge turns such input away first): 39 good rows and 1 with a NUL byte, one batch.
    const base = { templateId: tpl, templateVersion: 1, provider: 'anthropic' as const, model: 'claude-haiku-4-5', system: null,
      maxTokens: 10, temperature: null, outputSchema: null, cacheTtlSeconds: 60, apiKeyId: 'key_x' };
    const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) =>
      e.t.app.svc.ledger.admit({ ...base, id: `gen_poison${i}`, inputHash: `h${i}`,
        messages: [{ role: 'user' as const, content: i === 7 ? 'bad \u0000 byte' : `ok ${i}` }] })));
    expect(results.filter((r) => r.status === 'fulfilled' && r.value === true)).toHaveLength(39);
    expect(results[7]!.status).toBe('rejected');
    expect(await count('select count(*) as n from generations')).toBe(39);
  });

  it('text and structured output Postgres cannot store are kept exactly: row, job view and cache entry', async () => {
    const tpl = await template();
    const odd = { note: 'nul \u0000 and half \ud800', [`k\u0000`]: ['\udfff'] };
    const text = JSON.stringify(odd);
    const row = { templateId: tpl, templateVersion: 1, provider: 'anthropic' as const, model: 'claude-haiku-4-5', system: null,
      maxTokens: 10, temperature: null, outputSchema: null, cacheTtlSeconds: 60, apiKeyId: 'key_x', id: 'gen_odd', inputHash: 'h-odd',
      messages: [{ role: 'user' as const, content: 'p' }] };
    expect(await e.t.app.svc.ledger.admit(row)).toBe(true);
    expect(await e.t.app.svc.ledger.complete({ id: 'gen_odd', text, json: odd, finishReason: 'stop', inputTokens: 1, outputTokens: 1, costUsd: 0 })).toBeTruthy();
    const job = (await e.t.app.inject({ method: 'GET', url: '/v1/jobs/gen_odd', headers: e.auth })).json();
    expect(job.result).toEqual({ text, json: odd });
    const answer = await e.t.app.svc.ledger.answerOf('h-odd');
    expect(answer?.state === 'completed' && cachedFromRow(answer.row, 60).result).toEqual({ text, json: odd });
    // A second completion of a settled row (a rerun racing the first) changes nothing and fails nothing.
    expect(await e.t.app.svc.ledger.complete({ id: 'gen_odd', text: 'again', json: undefined, finishReason: 'stop', inputTokens: 1, outputTokens: 1, costUsd: 1 })).toBeUndefined();
    expect((await e.t.app.inject({ method: 'GET', url: '/v1/jobs/gen_odd', headers: e.auth })).json().result).toEqual({ text, json: odd });
  });
});
