import { eq } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { templates } from '../../src/db/schema.js';
import { reply } from '../fakes/llm-server.js';
import { waitForStatus } from '../support/jobs.js';
import { llmEnvPerTest } from '../support/llm-env.js';
import { spawnEntry, type Proc } from '../support/spawn.js';

// JOB_ATTEMPTS stays at its default (3): a retried attempt would show as an extra call.
const e = llmEnvPerTest({ ANTHROPIC_API_KEY: 'sk-ant-test', WORKER_CONCURRENCY: '4', OUTPUT_VALIDATION_TIMEOUT_MS: '500' });

/** `$defs` where each definition is `allOf` of two $refs to the next: a value costs about 2^(levels+2) checks. */
function fanOutDefs(levels: number): Record<string, unknown> {
  const $defs: Record<string, unknown> = { [`d${levels}`]: { type: 'object' } };
  for (let i = 0; i < levels; i++) $defs[`d${i}`] = { allOf: [{ $ref: `#/$defs/d${i + 1}` }, { $ref: `#/$defs/d${i + 1}` }] };
  return $defs;
}
/** 1.9 KB that validates in 2^levels steps per value: 30 levels took ~20 s on one value. */
const fanOut = (levels: number) => ({ $ref: '#/$defs/d0', $defs: fanOutDefs(levels) });
/** Within MAX_SCHEMA_COST (about 500 checks per value), but slow on an answer of many values: ~1.3 s for 1,000,000 in one thread. */
const ARRAY_OF_FAN_OUT = { type: 'array', items: { $ref: '#/$defs/d0' }, $defs: fanOutDefs(7) };
const MANY_VALUES = JSON.stringify(Array.from({ length: 1_000_000 }, () => ({})));

const createTemplate = (payload: Record<string, unknown>) =>
  e.t.app.inject({ method: 'POST', url: '/v1/templates', headers: e.auth, payload: { name: 't', provider: 'anthropic', ...payload } });
const generate = (templateId: string, topic: string) =>
  e.t.app.inject({ method: 'POST', url: '/v1/generate', headers: e.auth, payload: { templateId, variables: { topic } } });

describe('an outputSchema costly to check never blocks a worker', () => {
  const procs: Proc[] = [];
  afterEach(() => { for (const p of procs.splice(0)) p.child.kill('SIGKILL'); });

  it('a $ref fan-out schema is refused when the template is created, naming its cost; nothing is stored', async () => {
    const res = await createTemplate({ body: 'Fan out about {{topic}}', outputSchema: fanOut(30) });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'invalid_template', message: expect.stringMatching(/outputSchema could cost more than 1000 subschema checks per value/) });
    expect((await e.t.app.inject({ method: 'GET', url: '/v1/templates', headers: e.auth })).json().data).toEqual([]);
  });

  it('a schema within its cost whose answer takes too long to check: the job dies at the deadline, once, while 5 ordinary jobs on the same worker complete', async () => {
    const slow = await createTemplate({ body: 'Fan out about {{topic}}', outputSchema: ARRAY_OF_FAN_OUT });
    expect(slow.statusCode).toBe(201);
    const plain = await createTemplate({ body: 'Tell me about {{topic}}' });
    e.llm.setDefault(reply.ok(MANY_VALUES));

    const bad = await generate(slow.json().id, 'fan-out');
    expect(bad.statusCode).toBe(202);
    const topics = ['a', 'b', 'c', 'd', 'e'].map((x) => `ordinary ${x}`);
    const ordinary = await Promise.all(topics.map((topic) => generate(plain.json().id, topic)));
    expect(ordinary.map((r) => r.statusCode)).toEqual(Array(5).fill(202));
    e.t.worker();

    const done = await Promise.all(ordinary.map((r) => waitForStatus(e.t.app, e.auth, r.json().jobId, ['completed', 'dead'])));
    expect(done.map((j) => j.status)).toEqual(Array(5).fill('completed'));
    const dead = await waitForStatus(e.t.app, e.auth, bad.json().jobId, ['completed', 'dead']);
    expect(dead).toMatchObject({ status: 'dead', attempts: 1, error: { code: 'output_validation_timeout', message: expect.stringContaining('longer than 500 ms') } });
    expect(e.llm.calls).toHaveLength(6);
  });

  it('a stored schema that no longer compiles is refused at admission: a 400 naming the template, no job, no provider call', async () => {
    const tpl = (await createTemplate({ body: 'Hi {{topic}}', outputSchema: { type: 'object' } })).json();
    // As templates stored before today's checks could hold them.
    for (const outputSchema of [{ type: 'string', pattern: '(a)\\1' }, fanOut(30)]) {
      await e.t.database.db.update(templates).set({ outputSchema, version: tpl.version + 1 }).where(eq(templates.id, tpl.id));
      const res = await generate(tpl.id, 'old');
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toMatchObject({ code: 'invalid_template', message: expect.stringContaining(`The outputSchema of template ${tpl.id}`) });
    }
    e.t.worker();
    expect((await e.t.app.inject({ method: 'GET', url: '/v1/jobs', headers: e.auth })).json().data).toEqual([]);
    expect(e.llm.calls).toHaveLength(0);
  });

  it('in a worker process (npm run worker): answers are checked in its thread, a timeout restarts it, SIGTERM ends it', async () => {
    const slow = (await createTemplate({ body: 'Fan out about {{topic}}', outputSchema: ARRAY_OF_FAN_OUT })).json();
    const shaped = (await createTemplate({ body: 'Shape {{topic}}', outputSchema: { type: 'object', required: ['a'], properties: { a: { type: 'integer' } } } })).json();
    e.llm.script(reply.ok(MANY_VALUES));
    e.llm.setDefault(reply.ok('```json\n{"a":1}\n```'));
    const bad = (await generate(slow.id, 'fan-out')).json();
    const p = spawnEntry('workers/main.ts', { ...e.t.env, LOG_LEVEL: 'info', WORKER_METRICS_PORT: '0' });
    procs.push(p);
    await p.waitFor(/worker started/, 30_000);
    expect(await waitForStatus(e.t.app, e.auth, bad.jobId, ['completed', 'dead'], 30_000)).toMatchObject({ status: 'dead', error: { code: 'output_validation_timeout' } });
    const good = (await generate(shaped.id, 'after')).json();
    const done = await waitForStatus(e.t.app, e.auth, good.jobId, ['completed', 'dead'], 30_000);
    expect(done).toMatchObject({ status: 'completed', result: { json: { a: 1 } } });
    expect(e.llm.calls).toHaveLength(2);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(p.output()).toMatch(/worker stopped/);
  });
});
