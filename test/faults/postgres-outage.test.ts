import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reply } from '../fakes/llm-server.js';
import { countBy, sleep, startCluster, type Cluster, type Tenant } from './cluster.js';

const JOBS = 10;
const OUTAGE_MS = 8000;

let c: Cluster;
let tenant: Tenant;
const marker = 'Outage:';
// Two slots per worker and a prefetch of one: when Postgres goes, some jobs are active, some still queued.
// Three attempts 100 ms apart (plus a 1 s provider call each) all fall inside the outage.
beforeAll(async () => {
  c = await startCluster({
    apis: 1,
    proxyPostgres: true,
    env: { JOB_ATTEMPTS: '3', JOB_BACKOFF_MS: '100', WORKER_CONCURRENCY: '2', WORKER_PREFETCH: '1' },
  });
}, 90_000);
afterAll(() => c?.close());

describe(`Postgres gone for ${OUTAGE_MS / 1000} s, longer than the retry budget, while jobs are queued and active`, () => {
  it('every job accepted before the outage settles once Postgres is back: completed, or dead with a code', async ({ annotate }) => {
    tenant = await c.tenant(`${marker} {{topic}}`);
    c.llm.setDefault(reply.slow(1000));
    const accepted = await Promise.all(Array.from({ length: JOBS }, (_, i) =>
      c.post(0, '/v1/generate', tenant.auth, { templateId: tenant.templateId, variables: { topic: `topic ${i}` } })));
    expect(accepted.map((a) => a.status)).toEqual(Array(JOBS).fill(202));
    await c.until('provider calls', () => c.llm.calls.length, (n) => n >= 4);

    c.postgres(false);
    await sleep(OUTAGE_MS);
    const during = await c.statusCounts(tenant.templateId);
    c.postgres(true);

    let counts: Record<string, number>;
    try {
      counts = await c.settled(tenant.templateId, 45_000);
    } finally {
      await annotate(`rows by status at the end of the outage ${JSON.stringify(during)}, after it ${JSON.stringify(await c.statusCounts(tenant.templateId))}`, 'outcome');
    }
    const dead = await c.sql<{ id: string; error_code: string | null }>(
      "select id, error_code from generations where template_id = $1 and status = 'dead'", [tenant.templateId]);
    if (dead.length) await annotate(`dead: ${JSON.stringify(Object.fromEntries(countBy(dead, (d) => String(d.error_code))))}`, 'outcome');
    expect(dead.filter((d) => !d.error_code)).toEqual([]);
    expect((counts.completed ?? 0) + (counts.dead ?? 0)).toBe(JOBS);
    expect(c.crashed()).toEqual([]);
  }, 120_000);

  it('the provider was paid at most once per job', async ({ annotate }) => {
    const perJob = countBy(c.llm.calls.filter((k) => k.prompt.startsWith(marker)), (k) => k.prompt);
    await annotate(`provider calls per job: ${JSON.stringify([...perJob.values()])} (total ${[...perJob.values()].reduce((a, b) => a + b, 0)} for ${JOBS} jobs)`, 'outcome');
    expect([...perJob.entries()].filter(([, n]) => n > 1)).toEqual([]);
  });
});
