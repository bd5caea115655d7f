/**
 * A whole PromptLab deployment of real processes for fault-injection tests: its
 * own database (cloned from the migrated template) and Redis prefix, a fake LLM
 * server, API processes and worker processes. Tests break parts of it (SIGKILL a
 * worker, make Postgres vanish) and count at the source: the calls the fake
 * provider received and the rows in Postgres, never the API's answers alone.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startFakeLlm, type FakeLlm } from '../fakes/llm-server.js';
import { ADMIN_KEY, cloneDatabase, deletePrefix, REDIS_URL } from '../support/context.js';
import { freePort, spawnEntry, type Proc } from '../support/spawn.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

export interface ClusterOptions {
  /** API processes (`src/server.ts`). @defaultValue 2 */
  apis?: number;
  /** Worker processes (`workers/main.ts`) started with the cluster. @defaultValue 2 */
  workers?: number;
  /** Processes running the API and a worker, as `npm start` does (`src/main.ts`), after the API processes in `apis`. @defaultValue 0 */
  combined?: number;
  /** Environment for every process, on top of the cluster's defaults. */
  env?: Record<string, string>;
  /** Every process reaches Postgres through a TCP proxy, so `postgres(false)` makes it vanish for all of them. @defaultValue false */
  proxyPostgres?: boolean;
}

export interface Answer {
  status: number;
  body: any;
  headers: Headers;
}

/** An API key and a template of its own, so a test's rows, hashes and prompts are its own. */
export interface Tenant {
  auth: Record<string, string>;
  templateId: string;
}

/** Statuses a row may still leave: a job in one of them is not settled. */
const UNSETTLED = ['queued', 'active', 'failed'] as const;

export interface Cluster {
  llm: FakeLlm;
  /** The environment every process got (DATABASE_URL through the proxy when there is one). */
  env: Record<string, string>;
  /** Base URLs of the API processes (the combined ones last). */
  apis: string[];
  /** The combined processes (API and worker), in the order of their URLs in `apis`. */
  combined: Proc[];
  /** Worker processes alive now (`startWorker` adds, `killWorker` removes). */
  workers: Proc[];
  /** A query on the cluster's database, direct: it still answers while the proxy is down. */
  sql<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** A new enterprise API key and a template with `body`, created through API 0. */
  tenant(body: string, template?: Record<string, unknown>): Promise<Tenant>;
  post(api: number, path: string, auth: Record<string, string>, body: unknown): Promise<Answer>;
  get(api: number, path: string, auth: Record<string, string>): Promise<Answer>;
  startWorker(env?: Record<string, string>): Promise<Proc>;
  /** SIGKILL (a worker, or a combined process): no drain, no lock release, nothing written. */
  killWorker(p: Proc): Promise<void>;
  /** Postgres reachable (`true`) or gone (`false`) for every process; needs `proxyPostgres`. */
  postgres(up: boolean): void;
  /** Polls `probe` every 100 ms until `ok` holds; throws after `ms` with the last value it saw. */
  until<T>(what: string, probe: () => Promise<T> | T, ok: (v: T) => boolean, ms?: number): Promise<T>;
  /** Rows of a template by status, e.g. `{ completed: 39, dead: 1 }`. */
  statusCounts(templateId: string): Promise<Record<string, number>>;
  /** Waits until no row of the template is queued, active or failed; returns the counts. */
  settled(templateId: string, ms?: number): Promise<Record<string, number>>;
  /** Processes that exited without being killed by the test, with the tail of their output. */
  crashed(): string[];
  /** Stops everything it started, drops the database and deletes the Redis prefix; never throws. */
  close(): Promise<void>;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const BOOT_MS = 60_000;

/** Starts a cluster and waits until every process is listening or taking jobs; on a failure stops what it started. */
export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const procs = new Set<Proc>();
  const killed = new WeakSet<Proc>();
  const deaths: string[] = [];
  const close = async () => {
    for (const p of procs) { killed.add(p); p.child.kill('SIGKILL'); }
    await Promise.all([...procs].map((p) => p.exited));
    for (const f of cleanups.splice(0).reverse()) await f().catch(() => {});
  };
  try {
    const llm = await startFakeLlm();
    cleanups.push(() => llm.close());
    const clone = await cloneDatabase();
    cleanups.push(() => clone.drop());
    const prefix = `plt_f_${randomBytes(5).toString('hex')}`;
    cleanups.push(() => deletePrefix(prefix));
    const pool = new pg.Pool({ connectionString: clone.url, max: 3 });
    pool.on('error', () => {});
    cleanups.push(() => pool.end());
    let proxy: TcpProxy | undefined;
    let dbUrl = clone.url;
    if (opts.proxyPostgres) {
      const target = new URL(clone.url);
      proxy = await startTcpProxy(Number(target.port || 5432), target.hostname);
      cleanups.push(() => proxy!.close());
      target.port = String(proxy.port);
      dbUrl = target.toString();
    }
    const env: Record<string, string> = {
      DATABASE_URL: dbUrl,
      REDIS_URL,
      REDIS_PREFIX: prefix,
      PROMPTLAB_ADMIN_KEY: ADMIN_KEY,
      ANTHROPIC_API_KEY: 'sk-ant-faults-secret',
      ANTHROPIC_BASE_URL: llm.anthropicBaseUrl,
      LOG_LEVEL: 'info',
      FAKE_LATENCY_MS: '0',
      JOB_BACKOFF_MS: '50',
      // Many processes on two cores: a limiter check may wait long for its turn; these tests count, they do not time.
      RATE_LIMIT_TIMEOUT_MS: '5000',
      RATE_LIMIT_ENTERPRISE: '1000000',
      WORKER_METRICS_PORT: '0',
      WORKER_LOCK_DURATION_MS: '2000',
      WORKER_STALLED_INTERVAL_MS: '1000',
      SWEEP_INTERVAL_MS: '1000',
      ...opts.env,
    };
    const spawnTracked = (entry: string, e: Record<string, string>) => {
      const p = spawnEntry(entry, e);
      procs.add(p);
      void p.exited.then((how) => {
        procs.delete(p);
        if (!killed.has(p)) deaths.push(`${entry} exited ${how}:\n${p.output().slice(-2000)}`);
      });
      return p;
    };
    const workers: Proc[] = [];
    const startWorker = async (extra: Record<string, string> = {}) => {
      const p = spawnTracked('workers/main.ts', { ...env, ...extra });
      await p.waitFor(/worker started/, BOOT_MS);
      workers.push(p);
      return p;
    };
    const startApi = async () => {
      const port = await freePort();
      const p = spawnTracked('src/server.ts', { ...env, PORT: String(port) });
      await p.waitFor(/Server listening/, BOOT_MS);
      return `http://127.0.0.1:${port}`;
    };
    const combined: Proc[] = [];
    const startCombined = async () => {
      const port = await freePort();
      const p = spawnTracked('src/main.ts', { ...env, PORT: String(port) });
      await p.waitFor(/Server listening/, BOOT_MS);
      combined.push(p);
      return `http://127.0.0.1:${port}`;
    };
    const [apis, , both] = await Promise.all([
      Promise.all(Array.from({ length: opts.apis ?? 2 }, startApi)),
      Promise.all(Array.from({ length: opts.workers ?? 2 }, () => startWorker())),
      Promise.all(Array.from({ length: opts.combined ?? 0 }, startCombined)),
    ]);
    apis.push(...both);

    const call = async (api: number, method: string, path: string, auth: Record<string, string>, body?: unknown): Promise<Answer> => {
      const res = await fetch(apis[api]! + path, {
        method,
        headers: { ...auth, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try { parsed = JSON.parse(text); } catch { /* not JSON: keep the text */ }
      return { status: res.status, body: parsed, headers: res.headers };
    };
    const sql = async <T>(text: string, params: unknown[] = []) => (await pool.query(text, params)).rows as T[];
    const statusCounts = async (templateId: string) => Object.fromEntries(
      (await sql<{ status: string; n: number }>('select status, count(*)::int as n from generations where template_id = $1 group by status order by status', [templateId]))
        .map((r) => [r.status, r.n]),
    );
    const until: Cluster['until'] = async (what, probe, ok, ms = 30_000) => {
      const deadline = Date.now() + ms;
      for (;;) {
        const v = await probe();
        if (ok(v)) return v;
        if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(v)} after ${ms} ms`);
        await sleep(100);
      }
    };
    const admin = { authorization: `Bearer ${ADMIN_KEY}` };

    return {
      llm, env, apis, workers, combined, sql, statusCounts, until, close,
      async tenant(body, template = {}) {
        const key = await call(0, 'POST', '/v1/api-keys', admin, { name: 'faults', tier: 'enterprise' });
        if (key.status !== 201) throw new Error(`api key: ${key.status} ${JSON.stringify(key.body)}`);
        const auth = { authorization: `Bearer ${key.body.key}` };
        const tpl = await call(0, 'POST', '/v1/templates', auth, { name: 'faults', body, provider: 'anthropic', ...template });
        if (tpl.status !== 201) throw new Error(`template: ${tpl.status} ${JSON.stringify(tpl.body)}`);
        return { auth, templateId: tpl.body.id };
      },
      post: (api, path, auth, body) => call(api, 'POST', path, auth, body),
      get: (api, path, auth) => call(api, 'GET', path, auth),
      startWorker,
      async killWorker(p) {
        killed.add(p);
        p.child.kill('SIGKILL');
        await p.exited;
        for (const list of [workers, combined]) if (list.includes(p)) list.splice(list.indexOf(p), 1);
      },
      postgres(up) {
        if (!proxy) throw new Error('postgres(): start the cluster with proxyPostgres');
        proxy.setDown(!up);
      },
      settled: (templateId, ms = 30_000) =>
        until(`rows of ${templateId} by status`, () => statusCounts(templateId), (c) => UNSETTLED.every((s) => !c[s]), ms),
      crashed: () => [...deaths],
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Counts of each distinct value, e.g. provider calls per prompt. */
export function countBy<T>(items: readonly T[], key: (t: T) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const it of items) m.set(key(it), (m.get(key(it)) ?? 0) + 1);
  return m;
}
