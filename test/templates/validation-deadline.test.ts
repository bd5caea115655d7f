import { eq } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { templates } from '../../src/db/schema.js';
import { reply } from '../fakes/llm-server.js';
import { waitForStatus } from '../support/jobs.js';
import { llmEnvPerTest } from '../support/llm-env.js';
import { spawnEntry, type Proc } from '../support/spawn.js';

// JOB_ATTEMPTS stays at its default (3): a retried attempt would show as an extra call.
const e = llmEnvPerTest({ ANTHROPIC_API_KEY: 'sk-ant-test', WORKER_CONCURRENCY: '4', OUTPUT_VALIDATION_TIMEOUT_MS: '500' });

/**
 * 1.9 KB that validates in 2^levels steps: each definition is `allOf` of two $refs to the next.
 * Measured in one thread: 24 levels 0.34 s, so 30 levels ~20 s.
 */
function fanOut(levels: number): Record<string, unknown> {
  const $defs: Record<string, unknown> = { [`d${levels}`]: { type: 'object' } };
  for (let i = 0; i < levels; i++) $defs[`d${i}`] = { allOf: [{ $ref: `#/$defs/d${i + 1}` }, { $ref: `#/$defs/d${i + 1}` }] };
  return { $ref: '#/$defs/d0', $defs };
}

const createTemplate = (payload: Record<string, unknown>) =>
  e.t.app.inject({ method: 'POST', url: '/v1/templates', headers: e.auth, payload: { name: 't', provider: 'anthropic', ...payload } });
const generate = (templateId: string, topic: string) =>
  e.t.app.inject({ method: 'POST', url: '/v1/generate', headers: e.auth, payload: { templateId, variables: { topic } } });

describe('an outputSchema costly to check never blocks a worker', () => {
  const procs: Proc[] = [];
  afterEach(() => { for (const p of procs.splice(0)) p.child.kill('SIGKILL'); });

  it('the fan-out template is accepted; its job dies at the deadline, once, while 5 ordinary jobs on the same worker complete', async () => {
    const slow = await createTemplate({ body: 'Fan out about {{topic}}', outputSchema: fanOut(30) });
    expect(slow.statusCode).toBe(201);
    const plain = await createTemplate({ body: 'Tell me about {{topic}}' });
    e.llm.setDefault(reply.ok('{"a":1}'));

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

  it('a stored schema that no longer compiles fails the job at once, without retries', async () => {
    const tpl = (await createTemplate({ body: 'Hi {{topic}}', outputSchema: { type: 'object' } })).json();
    // As a template stored before today's checks could hold it.
    await e.t.database.db.update(templates).set({ outputSchema: { type: 'string', pattern: '(a)\\1' } }).where(eq(templates.id, tpl.id));
    const job = (await generate(tpl.id, 'old')).json();
    e.t.worker();
    const dead = await waitForStatus(e.t.app, e.auth, job.jobId, ['completed', 'dead']);
    expect(dead).toMatchObject({ status: 'dead', attempts: 1, error: { code: 'output_schema_invalid', message: expect.stringContaining('RE2') } });
    expect(e.llm.calls).toHaveLength(1);
  });

  it('in a worker process (npm run worker): answers are checked in its thread, a timeout restarts it, SIGTERM ends it', async () => {
    const slow = (await createTemplate({ body: 'Fan out about {{topic}}', outputSchema: fanOut(30) })).json();
    const shaped = (await createTemplate({ body: 'Shape {{topic}}', outputSchema: { type: 'object', required: ['a'], properties: { a: { type: 'integer' } } } })).json();
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
