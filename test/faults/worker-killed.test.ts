import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reply } from '../fakes/llm-server.js';
import { startCluster, type Cluster } from './cluster.js';

let c: Cluster;
// One API, and workers started by the test: the job's worker is then known. Short locks: a dead worker's job is found fast.
beforeAll(async () => {
  c = await startCluster({ apis: 1, workers: 0, env: { WORKER_LOCK_DURATION_MS: '1000', WORKER_STALLED_INTERVAL_MS: '500' } });
}, 90_000);
afterAll(() => c?.close());

describe.sequential('a worker SIGKILLed twice during one job', () => {
  it('the row settles (completed, or dead with a code), never stays active; an identical request then gets a completed job', async ({ annotate }) => {
    const { auth, templateId } = await c.tenant('Killed twice: {{topic}}');
    c.llm.script(reply.slow(60_000, reply.ok('never arrives 1')), reply.slow(60_000, reply.ok('never arrives 2')));
    c.llm.setDefault(reply.ok('finished by the third worker'));
    const body = { templateId, variables: { topic: 'twice' } };
    const calls = () => c.llm.calls.length;

    let w = await c.startWorker();
    const gen = await c.post(0, '/v1/generate', auth, body);
    expect(gen.status).toBe(202);
    const jobId: string = gen.body.jobId;
    await c.until('provider calls', calls, (n) => n >= 1);
    await c.killWorker(w);
    w = await c.startWorker();
    await c.until('provider calls after the first kill', calls, (n) => n >= 2, 60_000);
    await c.killWorker(w);
    await c.startWorker();

    const row = async () => (await c.sql<{ status: string; error_code: string | null; attempts: number }>(
      'select status, error_code, attempts from generations where id = $1', [jobId]))[0];
    const settled = await c.until(`row ${jobId}`, row, (r) => r?.status === 'completed' || r?.status === 'dead', 30_000);
    await annotate(`row ${settled!.status} (error ${settled!.error_code}, attempts ${settled!.attempts}) after ${calls()} provider calls`, 'outcome');
    if (settled!.status === 'dead') expect(settled!.error_code).toMatch(/^[a-z_]+$/);

    const again = await c.post(0, '/v1/generate?wait=20', auth, body);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ status: 'completed', result: { text: 'finished by the third worker' } });
    const job = await c.get(0, `/v1/jobs/${again.body.jobId}`, auth);
    expect(job.body.status).toBe('completed');
    expect(await c.statusCounts(templateId)).toEqual(settled!.status === 'dead' ? { completed: 1, dead: 1 } : { completed: 1 });
    expect(c.crashed()).toEqual([]);
  }, 180_000);
});
