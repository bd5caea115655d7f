import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reply } from '../fakes/llm-server.js';
import { startCluster, type Cluster } from './cluster.js';

let c: Cluster;
// One process as `npm start` runs it (API and worker, LOCAL_START on by default), no other worker until the test starts one.
// A run may last PROVIDER_TIMEOUT_MS: the reconciler takes an active row with no job after that and the lock (1.5 + 2 s).
beforeAll(async () => {
  c = await startCluster({ apis: 0, workers: 0, combined: 1, env: { PROVIDER_TIMEOUT_MS: '1500' } });
}, 90_000);
afterAll(() => c?.close());

describe('a process SIGKILLed during a generation it started itself (LOCAL_START)', () => {
  it('the row it claimed at admission is run again by a worker\'s reconciler and completes once', async () => {
    const { auth, templateId } = await c.tenant('Local then killed: {{topic}}');
    c.llm.script(reply.slow(60_000, reply.ok('never arrives')));
    c.llm.setDefault(reply.ok('run again elsewhere'));
    const gen = await c.post(0, '/v1/generate', auth, { templateId, variables: { topic: 'crash' } });
    expect(gen.status).toBe(202);
    const jobId: string = gen.body.jobId;
    expect(gen.body.status).toBe('active'); // admitted claimed: started where it was admitted
    await c.until('the first provider call', () => c.llm.calls.length, (n) => n >= 1);
    await c.killWorker(c.combined[0]!);
    // Nothing in BullMQ holds it: only the row says it is in flight.
    expect(await c.sql('select status, attempts from generations where id = $1', [jobId])).toEqual([{ status: 'active', attempts: 1 }]);

    await c.startWorker();
    const row = await c.until(`row ${jobId}`, async () => (await c.sql<{ status: string; attempts: number; text: string | null }>(
      'select status, attempts, result_text as text from generations where id = $1', [jobId]))[0], (r) => r?.status === 'completed', 30_000);
    expect(row).toEqual({ status: 'completed', attempts: 2, text: 'run again elsewhere' });
    expect(c.llm.calls).toHaveLength(2); // the one the dead process sent, and the rerun: never a third
    expect(await c.statusCounts(templateId)).toEqual({ completed: 1 });
    expect(c.crashed()).toEqual([]);
  }, 120_000);
});
