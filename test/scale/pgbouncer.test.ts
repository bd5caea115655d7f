import { sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, rowsOf } from '../../src/db/client.js';
import { Ledger } from '../../src/jobs/ledger.js';
import { priceFor } from '../../src/providers/prices.js';
import { worstCaseUsd } from '../../src/spend/budgets.js';
import { reply, startFakeLlm, type FakeLlm } from '../fakes/llm-server.js';
import { cloneDatabase, createTestEnv, type TestEnv } from '../support/context.js';
import { waitForStatus } from '../support/jobs.js';
import { dbUrl } from '../support/pg.js';
import { PGBOUNCER, PGBOUNCER_MISSING, startPgBouncer, type PgBouncer } from '../support/pgbouncer.js';
import { spawnEntry, type Proc } from '../support/spawn.js';

/**
 * PromptLab unchanged behind PgBouncer in transaction mode: the API (in this process) and two worker
 * processes reach Postgres only through a PgBouncer this file starts (with PROMPTLAB_PGBOUNCER_SETTINGS),
 * and the pipeline, single flight and budgets hold, counted at the source: calls at the fake provider,
 * rows read straight from Postgres.
 */
if (!PGBOUNCER) process.stderr.write(`\n${PGBOUNCER_MISSING}\n\n`);

const HAIKU = priceFor('anthropic', 'claude-haiku-4-5')!;
/** The worst case reserved for `About t<nn>` at maxTokens 1000 (every budgeted prompt here is that long). */
const WORST = worstCaseUsd(HAIKU, { messages: [{ role: 'user', content: 'About t00' }], params: { maxTokens: 1000 } });
const MIGRATION_LOCK = 0x70726f6d; // src/db/client.ts

describe.skipIf(!PGBOUNCER)('PromptLab behind PgBouncer in transaction mode', () => {
  let llm: FakeLlm;
  let db: Awaited<ReturnType<typeof cloneDatabase>>;
  let bouncer: PgBouncer;
  let t: TestEnv;
  let workers: Proc[] = [];
  let direct: pg.Client;

  /** A number read straight from Postgres, not through PgBouncer. */
  const count = async (q: string, params: unknown[] = []) => Number((await direct.query<{ n: string }>(q, params)).rows[0]!.n);
  const migrationLocks = () => count(`select count(*) as n from pg_locks l join pg_database d on d.oid = l.database
    where l.locktype = 'advisory' and d.datname = $1 and l.objid = $2`, [db.name, MIGRATION_LOCK]);
  const xacts = async () => Number((await bouncer.show('STATS')).find((r) => r.database === db.name)?.total_xact_count ?? 0);
  const template = async (auth: Record<string, string>, extra: Record<string, unknown> = {}) => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/templates', headers: auth, payload: { name: 'pgb', body: 'About {{topic}}', provider: 'anthropic', ...extra } });
    expect(res.statusCode).toBe(201);
    return res.json().id as string;
  };
  const generate = (auth: Record<string, string>, templateId: string, topic: string) =>
    t.app.inject({ method: 'POST', url: '/v1/generate', headers: auth, payload: { templateId, variables: { topic } } });

  beforeAll(async () => {
    llm = await startFakeLlm();
    db = await cloneDatabase();
    bouncer = await startPgBouncer(db.name);
    t = await createTestEnv({
      DATABASE_URL: bouncer.url, ANTHROPIC_API_KEY: 'sk-ant-test', ANTHROPIC_BASE_URL: llm.anthropicBaseUrl, WORKER_METRICS_PORT: '0',
    });
    direct = new pg.Client({ connectionString: dbUrl(db.name) });
    await direct.connect();
    // Two workers boot at once as `npm run worker` does (migrations, the Redis prefix's owner), through PgBouncer.
    workers = [0, 1].map(() => spawnEntry('workers/main.ts', { ...t.env, LOG_LEVEL: 'info' }));
    await Promise.all(workers.map((w) => w.waitFor(/worker started/)));
  });
  afterAll(async () => {
    for (const w of workers) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
    await direct?.end();
    await t?.close();
    await bouncer?.stop();
    await db?.drop();
    await llm?.close();
  });
  beforeEach(() => llm.reset());

  it('every process reaches Postgres through it, with the server-side statement timeout kept', async () => {
    expect(t.config.DATABASE_URL).toBe(bouncer.url);
    const [row] = rowsOf<{ statement_timeout: string }>(await t.database.db.execute(sql`show statement_timeout`));
    expect(row!.statement_timeout).toBe('10s');
    // Every backend on the database (but this file's own direct one) is a PgBouncer server connection,
    // matched by port: read first, so a server connection PgBouncer opens meanwhile is in its list too.
    const ports = (await direct.query<{ port: number }>(
      `select client_port as port from pg_stat_activity where datname = $1 and backend_type = 'client backend' and pid <> pg_backend_pid()`, [db.name])).rows.map((r) => r.port);
    const servers = new Set((await bouncer.show('SERVERS')).map((s) => Number(s.local_port)));
    expect(ports.length).toBeGreaterThan(0);
    expect(ports.filter((p) => !servers.has(p))).toEqual([]);
  });

  it('the pipeline: 40 distinct generations through the API and the worker processes complete, one call and one row each', async () => {
    const auth = await t.keyHeader('enterprise');
    const tpl = await template(auth);
    const before = await xacts();
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => generate(auth, tpl, `pipeline ${i}`)));
    expect(answers.map((a) => a.statusCode)).toEqual(Array(40).fill(202));
    for (const a of answers) await waitForStatus(t.app, auth, a.json().jobId, ['completed']);
    expect(llm.calls).toHaveLength(40);
    expect(await count(`select count(*) as n from generations where template_id = $1 and status = 'completed' and attempts = 1`, [tpl])).toBe(40);
    expect(await count(`select count(*) as n from input_slots s join generations g on g.id = s.generation_id where g.template_id = $1 and s.state = 'completed'`, [tpl])).toBe(40);
    expect(await xacts() - before).toBeGreaterThanOrEqual(40); // PgBouncer carried the statements that did it
  });

  it('single flight: 40 identical concurrent requests are one provider call and one row, then cache hits', async () => {
    const auth = await t.keyHeader('enterprise');
    const tpl = await template(auth);
    llm.setDefault(reply.slow(300, reply.ok('the one answer')));
    const answers = await Promise.all(Array.from({ length: 40 }, () => generate(auth, tpl, 'same')));
    expect(answers.map((a) => a.statusCode)).toEqual(Array(40).fill(202));
    const ids = new Set(answers.map((a) => a.json().jobId as string));
    expect(ids.size).toBe(1);
    const job = await waitForStatus(t.app, auth, [...ids][0]!, ['completed']);
    expect(job).toMatchObject({ attempts: 1, result: { text: 'the one answer' } });
    const again = await Promise.all(Array.from({ length: 40 }, () => generate(auth, tpl, 'same')));
    expect(again.map((a) => a.statusCode)).toEqual(Array(40).fill(200));
    expect(new Set(again.map((a) => a.json().jobId))).toEqual(ids);
    expect(llm.calls).toHaveLength(1);
    expect(await count('select count(*) as n from generations where template_id = $1', [tpl])).toBe(1);
  });

  it('budgets: 50 concurrent distinct requests against a budget that holds 10 worst cases admit exactly 10', async () => {
    const key = (await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: t.admin, payload: { name: 'b', tier: 'pro', budgets: [{ usd: WORST * 10 + 1e-9, period: 'day' }] } })).json();
    const auth = { authorization: `Bearer ${key.key}` };
    const tpl = await template(auth, { maxTokens: 1000 });
    llm.setDefault(reply.ok('cheap', { inputTokens: 10, outputTokens: 5 }));
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => generate(auth, tpl, `t${String(i).padStart(2, '0')}`)));
    const admitted = answers.filter((a) => a.statusCode === 202);
    expect(admitted).toHaveLength(10);
    expect(answers.filter((a) => a.statusCode === 402)).toHaveLength(40);
    expect(await count('select count(*) as n from generations where api_key_id = $1', [key.id])).toBe(10);
    for (const a of admitted) await waitForStatus(t.app, auth, a.json().jobId, ['completed']);
    expect(llm.calls).toHaveLength(10);
    const [usage] = (await direct.query<{ spent: number; reserved: number }>(
      'select spent_usd::float8 as spent, reserved_usd::float8 as reserved from budget_usage where scope_id = $1', [key.id])).rows;
    expect(usage!.reserved).toBe(0);
    expect(usage!.spent).toBeCloseTo(10 * (10 * 1e-6 + 5 * 5e-6), 9);
  });

  it('named statements it does not keep (1.18, transaction mode) fall back to unnamed ones: 60 admissions and claims at once, each right', async () => {
    const through = await openDatabase({ url: bouncer.url, dataDir: '', poolSize: 6 });
    try {
      const ledger = new Ledger(through.db);
      const ids = Array.from({ length: 60 }, (_, i) => `gen_pgbprep${i}`);
      const admitted = await Promise.all(ids.map((id, i) => ledger.admit({
        id, inputHash: `pgb-prep-${i}`, templateId: null, templateVersion: null, provider: 'fake', model: 'fake-1', system: null,
        messages: [{ role: 'user', content: `hello ${i}` }], maxTokens: 10, temperature: 0, outputSchema: null, cacheTtlSeconds: 60, apiKeyId: 'key_pgbprep',
      })));
      expect(admitted.every((a) => a === true)).toBe(true);
      expect(await Promise.all(ids.map((id) => ledger.claim(id)))).toEqual(ids.map(() => 'claimed'));
      expect(await count(`select count(*) as n from generations where api_key_id = 'key_pgbprep' and status = 'active' and attempts = 1`)).toBe(60);
    } finally {
      await through.close();
    }
  });

  it('two processes booted through it at once, and neither left its migration lock behind', async () => {
    expect(workers.map((w) => w.child.exitCode)).toEqual([null, null]);
    expect(await migrationLocks()).toBe(0);
  });

  it('a boot with nothing to migrate takes no lock; one with migrations takes it through DATABASE_DIRECT_URL and lets it go', async () => {
    const through = await openDatabase({ url: bouncer.url, dataDir: '' });
    await through.migrate(); // what every process runs at boot (nothing pending here)
    await through.close();
    expect(await migrationLocks()).toBe(0);
    const fresh = await cloneDatabase(); // migrated too: make it pending by forgetting the last migration
    try {
      const raw = new pg.Client({ connectionString: fresh.url });
      await raw.connect();
      await raw.query('delete from drizzle.__drizzle_migrations where created_at = (select max(created_at) from drizzle.__drizzle_migrations)');
      await raw.end();
      const bouncing = await startPgBouncer(fresh.name);
      try {
        const database = await openDatabase({ url: bouncing.url, directUrl: fresh.url, dataDir: '' });
        await database.migrate().catch(() => {}); // re-running the last migration may clash with what it made; the lock is what is checked
        await database.close();
        const held = await direct.query<{ n: string }>(`select count(*) as n from pg_locks l join pg_database d on d.oid = l.database
          where l.locktype = 'advisory' and d.datname = $1 and l.objid = $2`, [fresh.name, MIGRATION_LOCK]);
        expect(Number(held.rows[0]!.n)).toBe(0);
      } finally {
        await bouncing.stop();
      }
    } finally {
      await fresh.drop();
    }
  });
});
