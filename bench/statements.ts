/**
 * `npm run bench:statements`: the hot statements one at a time (no batching), each run unnamed as
 * drizzle sends it (parsed and planned on every call) and as a named prepared statement (parsed once
 * per connection: src/db/prepared.ts), alternating in rounds on one connection of a fresh database:
 * the admission (`admitRows`, one row), the claim (`claimRows`, one id) and the completion
 * (`completeRows`, one answer). p50 and p99 in ms.
 */
import { sql } from 'drizzle-orm';
import { openDatabase, rowsOf } from '../src/db/client.js';
import { admitRows, type Admission } from '../src/jobs/admit.js';
import { claimRows } from '../src/jobs/claim.js';
import { completeRows } from '../src/jobs/complete.js';
import { benchWorld, fmt } from './support.js';

const ROUNDS = Number(process.env.ROUNDS ?? 10);
const PER_ROUND = 100;
const world = await benchWorld();
await world.database.close();
// Two handles on one world, one connection each: the first names the statements src/db/prepared.ts names (what
// openDatabase does), the second is drizzle itself, every statement unnamed.
const named = await openDatabase({ url: world.config.DATABASE_URL!, dataDir: '', poolSize: 1 });
const { drizzle } = await import('drizzle-orm/node-postgres');
const { default: pg } = await import('pg');
const plainPool = new pg.Pool({ connectionString: world.config.DATABASE_URL, max: 1 });
const plain = drizzle(plainPool);

let n = 0;
const row = (): Admission => ({
  id: `gen_st${++n}`, inputHash: `st-${n}`, templateId: null, templateVersion: null, provider: 'fake', model: 'fake-1', system: null,
  messages: [{ role: 'user', content: `hello ${n}` }], maxTokens: 10, temperature: 0, outputSchema: null, cacheTtlSeconds: 60, apiKeyId: 'key_st', unlessBudgeted: true,
});
const times: Record<string, number[]> = {};
const time = async (label: string, fn: () => Promise<unknown>) => {
  const start = performance.now();
  await fn();
  (times[label] ??= []).push(performance.now() - start);
};
const ids: Record<string, string[]> = { named: [], unnamed: [] };
const claimed: Record<string, string[]> = { named: [], unnamed: [] };
for (let round = 0; round < ROUNDS + 1; round++) {
  for (const [label, db] of [['named', named.db], ['unnamed', plain]] as const) {
    for (let i = 0; i < PER_ROUND; i++) {
      const r = row();
      ids[label]!.push(r.id);
      await time(round ? `admit ${label}` : 'warm', () => admitRows(db as never, [r]));
    }
    for (let i = 0; i < PER_ROUND; i++) {
      const id = ids[label]!.shift()!;
      claimed[label]!.push(id);
      await time(round ? `claim ${label}` : 'warm', () => claimRows(db as never, [id], 30_000));
    }
    for (let i = 0; i < PER_ROUND; i++) {
      const id = claimed[label]!.shift()!;
      await time(round ? `complete ${label}` : 'warm', () => completeRows(db as never, [{ id, text: 'an answer', json: null, finishReason: 'stop', costUsd: 0.0001, inputTokens: 5, outputTokens: 3 }]));
    }
  }
}
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;
console.log(`bench:statements  ${ROUNDS} rounds of ${PER_ROUND} each, one connection, alternating  (node ${process.version})`);
for (const stmt of ['admit', 'claim', 'complete']) {
  const [u, p] = [times[`${stmt} unnamed`]!, times[`${stmt} named`]!];
  console.log(`${stmt.padEnd(8)} unnamed p50 ${fmt(pct(u, 50), 3)} ms p99 ${fmt(pct(u, 99), 3)} ms   named p50 ${fmt(pct(p, 50), 3)} ms p99 ${fmt(pct(p, 99), 3)} ms   named/unnamed p50 ${fmt(pct(p, 50) / pct(u, 50), 2)}`);
}
const [{ calls }] = rowsOf<{ calls: number }>(await named.db.execute(sql`select count(*)::int as calls from pg_prepared_statements`)) as [{ calls: number }];
console.log(`named statements on the named connection: ${calls}`);
await named.close();
await plainPool.end();
await world.drop().catch(() => {});
process.exit(0);
