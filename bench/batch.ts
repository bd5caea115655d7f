/**
 * `npm run bench:batch`: 10,000 items admitted in one POST /v1/batches, against the same number
 * of items sent one POST /v1/generate each (50 at once); then the batch run to completion by one
 * in-process worker with the fake provider at 0 ms. Items/s, median of the runs. Last, webhook
 * delivery throughput: WEBHOOKS messages to a local receiver, one worker (WEBHOOK_CONCURRENCY 20).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startWorker } from '../workers/worker.js';
import { benchApp, BENCH_ADMIN_KEY, fmt, median, pool, silent } from './support.js';

const ITEMS = Number(process.env.BATCH_ITEMS ?? 10_000);
const RUNS = Number(process.env.RUNS ?? 3);

const WEBHOOKS = Number(process.env.WEBHOOKS ?? 2000);
const b = await benchApp({ WEBHOOK_ALLOW_PRIVATE: 'true', FAKE_LATENCY_MS: '0', RATE_LIMIT_ENTERPRISE: '1000000', RATE_LIMIT_TPM_ENTERPRISE: '1000000000', WORKER_CONCURRENCY: '50' });
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
const singleStatus: Record<number, number> = {};
for (let r = 0; r < RUNS; r++) {
  const list = items(`single${r}`);
  const t0 = performance.now();
  await pool(list.length, 50, async (i) => {
    const res = await b.app.inject({ method: 'POST', url: '/v1/generate', headers: auth, payload: { templateId: tpl, variables: list[i]!.variables } });
    singleStatus[res.statusCode] = (singleStatus[res.statusCode] ?? 0) + 1;
  });
  singleMs.push(performance.now() - t0);
}
await b.queues.generation.obliterate({ force: true });

// Completion: one batch run by one worker.
if (process.env.SKIP_COMPLETE) { await b.close(); process.exit(0); }
const worker = startWorker({ config: b.config, database: b.database, redis: b.redis, queues: b.queues, registry: b.registry, svc: b.app.svc, log: silent });
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

// Webhook deliveries: messages enqueued at once, each POSTed, signed, to a local receiver answering 204.
let received = 0;
let allIn: () => void = () => {};
const arrived = new Promise<void>((r) => { allIn = r; });
const receiver = createServer((req, res) => {
  req.resume().on('end', () => {
    res.writeHead(204).end();
    if (++received === WEBHOOKS) allIn();
  });
});
await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
const keyId = (await b.app.inject({ method: 'POST', url: '/v1/api-keys', headers: admin, payload: { name: 'hooks', tier: 'enterprise' } })).json().id;
await b.app.inject({ method: 'POST', url: `/v1/api-keys/${keyId}/webhook-secret`, headers: admin });
const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
const body = JSON.stringify({ id: 'gen_x', status: 'completed', result: { text: 'x'.repeat(500) } });
const w0 = performance.now();
await b.queues.webhooks.addBulk(Array.from({ length: WEBHOOKS }, (_, i) => ({
  name: 'completed', data: { messageId: `msg_bench_${i}`, event: 'completed' as const, apiKeyId: keyId, url, body }, opts: { jobId: `msg_bench_${i}` },
})));
await arrived;
const webhookMs = performance.now() - w0;
receiver.close();
await worker.close();

const perS = (ms: number) => fmt((ITEMS / ms) * 1000);
console.log(`items: ${fmt(ITEMS)}, runs: ${RUNS}`);
console.log(`batch admission (one request):   median ${fmt(median(batchMs))} ms → ${perS(median(batchMs))} items/s  [${batchMs.map((m) => fmt(m)).join(', ')}]`);
console.log(`single requests (50 at once):    median ${fmt(median(singleMs))} ms → ${perS(median(singleMs))} items/s  [${singleMs.map((m) => fmt(m)).join(', ')}]`);
console.log(`  their answers by status: ${JSON.stringify(singleStatus)}   spurious 503 (Redis is healthy): ${singleStatus[503] ?? 0}   target 0`);
console.log(`batch admitted and completed (1 worker, fake provider 0 ms): ${fmt(completeMs)} ms → ${perS(completeMs)} items/s`);
console.log(`results JSONL: ${fmt(results.body.length / 1024)} KiB in ${fmt(resultsMs)} ms`);
console.log(`webhook deliveries (1 worker, local receiver): ${fmt(WEBHOOKS)} in ${fmt(webhookMs)} ms → ${fmt((WEBHOOKS / webhookMs) * 1000)} deliveries/s`);
await b.close();
