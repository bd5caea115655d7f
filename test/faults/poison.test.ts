import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reply } from '../fakes/llm-server.js';
import { countBy, startCluster, type Cluster } from './cluster.js';

const N = 40;
const POISON_AT = 17;
const NUL_TEXT = 'before\u0000after';

let c: Cluster;
// One worker with a provider slot for each of the 40 jobs, so their results are written together, in the same batches.
beforeAll(async () => { c = await startCluster({ apis: 1, workers: 1, env: { WORKER_CONCURRENCY: String(N) } }); }, 90_000);
afterAll(() => c?.close());

const rowOfPrompt = async (templateId: string, prompt: string) => (await c.sql<{ id: string; status: string; error_code: string | null }>(
  'select id, status, error_code from generations where template_id = $1 and prompt = $2', [templateId, prompt]))[0];

describe('one poison value among concurrent valid ones', () => {
  it(`a NUL byte in one of ${N} concurrent requests: the ${N - 1} valid ones are admitted, the poison one is a 4xx`, async ({ annotate }) => {
    const marker = 'Poison input:';
    const { auth, templateId } = await c.tenant(`${marker} {{v}}`);
    const answers = await Promise.all(Array.from({ length: N }, (_, i) =>
      c.post(0, '/v1/generate', auth, { templateId, variables: { v: i === POISON_AT ? 'bad\u0000byte' : `valid ${i}` } })));
    const valid = answers.filter((_, i) => i !== POISON_AT);
    await annotate(`valid answers by status ${JSON.stringify(Object.fromEntries(countBy(valid, (a) => String(a.status))))}; poison ${answers[POISON_AT]!.status} ${JSON.stringify(answers[POISON_AT]!.body)}`, 'outcome');
    expect(valid.filter((a) => a.status !== 200 && a.status !== 202).map((a) => [a.status, a.body])).toEqual([]);
    expect(answers[POISON_AT]!.status).toBeGreaterThanOrEqual(400);
    expect(answers[POISON_AT]!.status).toBeLessThan(500);
    expect(answers[POISON_AT]!.body.error).toMatchObject({ code: expect.any(String), message: expect.any(String) });

    expect(await c.settled(templateId)).toEqual({ completed: N - 1 });
    expect(c.llm.calls.filter((k) => k.prompt.startsWith(marker))).toHaveLength(N - 1);
  }, 90_000);

  it(`one model output with a NUL byte among ${N} concurrent completions: all settle, ${N} provider calls, the text comes back intact`, async ({ annotate }) => {
    const marker = 'Poison output:';
    const { auth, templateId } = await c.tenant(`${marker} {{v}}`);
    // The fake answers in arrival order: the reply scripted at POISON_AT goes to whichever prompt arrives then.
    c.llm.script(...Array.from({ length: N }, (_, i) => reply.slow(500, i === POISON_AT ? reply.ok(NUL_TEXT) : {})));
    const before = c.llm.calls.length;
    const answers = await Promise.all(Array.from({ length: N }, (_, i) =>
      c.post(0, '/v1/generate', auth, { templateId, variables: { v: `output ${i}` } })));
    expect(answers.map((a) => a.status)).toEqual(Array(N).fill(202));
    const counts = await c.settled(templateId, 45_000);

    const poisoned = c.llm.calls[before + POISON_AT]!;
    const row = await rowOfPrompt(templateId, poisoned.prompt);
    const job = await c.get(0, `/v1/jobs/${row!.id}`, auth);
    const calls = c.llm.calls.filter((k) => k.prompt.startsWith(marker)).length;
    await annotate(`rows ${JSON.stringify(counts)}, provider calls ${calls}; the NUL job: ${job.status} ${JSON.stringify(job.body?.status)} ${JSON.stringify(job.body?.result ?? job.body?.error)}`, 'outcome');
    expect({ calls, settled: (counts.completed ?? 0) + (counts.dead ?? 0) }).toEqual({ calls: N, settled: N });
    const innocents = await c.sql<{ status: string }>('select status from generations where template_id = $1 and id <> $2', [templateId, row!.id]);
    expect(Object.fromEntries(countBy(innocents, (r) => r.status))).toEqual({ completed: N - 1 });
    expect(job.status).toBe(200);
    if (job.body.status === 'completed') expect(job.body.result.text).toBe(NUL_TEXT);
    else expect(job.body).toMatchObject({ status: 'dead', error: { code: expect.stringMatching(/^[a-z_]+$/) } });
    expect(c.crashed()).toEqual([]);
  }, 90_000);

  it('a model output with a lone surrogate: the row settles and GET /v1/jobs/:id answers 200', async ({ annotate }) => {
    const { auth, templateId } = await c.tenant('Surrogate output: {{v}}');
    c.llm.script(reply.ok('lone \ud800 surrogate'));
    const gen = await c.post(0, '/v1/generate', auth, { templateId, variables: { v: 'x' } });
    expect(gen.status).toBe(202);
    const counts = await c.settled(templateId);
    const job = await c.get(0, `/v1/jobs/${gen.body.jobId}`, auth);
    await annotate(`row ${JSON.stringify(counts)}; GET ${job.status} ${JSON.stringify(job.body?.result ?? job.body?.error)}`, 'outcome');
    expect(job.status).toBe(200);
    expect(['completed', 'dead']).toContain(job.body.status);
    const again = await c.post(0, '/v1/generate', auth, { templateId, variables: { v: 'x' } });
    if (job.body.status === 'completed') expect([again.status, again.body.jobId]).toEqual([200, gen.body.jobId]);
    else expect([200, 202]).toContain(again.status);
  }, 60_000);
});
