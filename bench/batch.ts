/**
 * `npm run bench:batch`: 10,000 items admitted in one POST /v1/batches, against the same number
 * of items sent one POST /v1/generate each (50 at once); then the batch run to completion by one
 * in-process worker with the fake provider at 0 ms. Items/s, median of the runs.
 */
import { startWorker } from '../workers/worker.js';
import { benchApp, BENCH_ADMIN_KEY, fmt, median, pool, silent } from './support.js';

const ITEMS = Number(process.env.BATCH_ITEMS ?? 10_000);
const RUNS = Number(process.env.RUNS ?? 3);

const b = await benchApp({ FAKE_LATENCY_MS: '0', RATE_LIMIT_ENTERPRISE: '1000000', RATE_LIMIT_TPM_ENTERPRISE: '1000000000', WORKER_CONCURRENCY: '50' });
const admin = { authorization: `Bearer ${BENCH_ADMIN_KEY}` };
const key = (await b.app.inject({ method: 'POST', url: '/v1/api-keys', headers: admin, payload: { name: 'bench', tier: 'enterprise' } })).json().key;
const auth = { authorization: `Bearer ${key}` };
const tpl = (await b.app.inject({ method: 'POST', url: '/v1/templates', headers: auth, payload: { name: 'b', body: 'Summarise {{topic}}', provider: 'fake' } })).json().id;
const items = (run: string) => Array.from({ length: ITEMS }, (_, i) => ({ variables: { topic: `${run}-${i}` }, customId: `c${i}` }));

const batchMs: number[] = [];
for (let r = 0; r < RUNS; r++) {
  const payload = { templateId: tpl, items: items(`batch${r}`) };
  const t0 = performance.now();
  const res = await b.app.inject({ method: 'POST', url: '/v1/batches', headers: auth, payload });
  batchMs.push(performance.now() - t0);
  if (res.statusCode !== 201) throw new Error(`batch refused: ${res.statusCode} ${res.body}`);
}
await b.queues.generation.obliterate({ force: true });

const singleMs: number[] = [];
for (let r = 0; r < RUNS; r++) {
  const list = items(`single${r}`);
  const t0 = performance.now();
  await pool(list.length, 50, (i) => b.app.inject({ method: 'POST', url: '/v1/generate', headers: auth, payload: { templateId: tpl, variables: list[i]!.variables } }));
  singleMs.push(performance.now() - t0);
}
await b.queues.generation.obliterate({ force: true });

// Completion: one batch run by one worker.
if (process.env.SKIP_COMPLETE) { await b.close(); process.exit(0); }
const worker = startWorker({ config: b.config, database: b.database, redis: b.redis, queues: b.queues, log: silent });
const t0 = performance.now();
const created = (await b.app.inject({ method: 'POST', url: '/v1/batches', headers: auth, payload: { templateId: tpl, items: items('run') } })).json();
for (;;) {
  const s = (await b.app.inject({ method: 'GET', url: `/v1/batches/${created.id}`, headers: auth })).json();
  if (s.completedAt) break;
  await new Promise((r) => setTimeout(r, 100));
}
const completeMs = performance.now() - t0;
const r0 = performance.now();
const results = await b.app.inject({ method: 'GET', url: `/v1/batches/${created.id}/results`, headers: auth });
const resultsMs = performance.now() - r0;
await worker.close();

const perS = (ms: number) => fmt((ITEMS / ms) * 1000);
console.log(`items: ${fmt(ITEMS)}, runs: ${RUNS}`);
console.log(`batch admission (one request):   median ${fmt(median(batchMs))} ms → ${perS(median(batchMs))} items/s  [${batchMs.map((m) => fmt(m)).join(', ')}]`);
console.log(`single requests (50 at once):    median ${fmt(median(singleMs))} ms → ${perS(median(singleMs))} items/s  [${singleMs.map((m) => fmt(m)).join(', ')}]`);
console.log(`batch admitted and completed (1 worker, fake provider 0 ms): ${fmt(completeMs)} ms → ${perS(completeMs)} items/s`);
console.log(`results JSONL: ${fmt(results.body.length / 1024)} KiB in ${fmt(resultsMs)} ms`);
await b.close();
