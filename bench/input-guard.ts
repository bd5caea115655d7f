/**
 * `npx tsx bench/input-guard.ts`: what the input guard (src/http/input-guard.ts)
 * costs per request, measured on the parts of a typical POST /v1/generate
 * (headers, empty query and params, a body of five variables) and of a larger
 * one (a 20 KB transcript and fifty variables). Each case runs ROUNDS rounds
 * of N walks; the median µs per request is shown.
 */
import { findFlaw } from '../src/http/input-guard.js';
import { median } from './support.js';

const N = Number(process.env.N ?? 100_000);
const ROUNDS = 7;

const headers = {
  host: 'api.example.com', 'user-agent': 'promptlab-client/1.0 node/20', accept: 'application/json',
  'content-type': 'application/json', 'content-length': '412', authorization: `Bearer pl_${'k'.repeat(43)}`,
  'idempotency-key': 'c1a0a7e2-2a4e-4f0c-9d2e-5a1f0e6b7c3d', 'x-request-id': 'req-7f3a9c',
};
const typical = {
  templateId: 'tpl_3q2Fk9bX0mLr7tVwYp1ZsA',
  variables: { topic: 'Event sourcing for billing systems', audience: 'senior backend engineers', tone: 'direct', words: 800, tags: ['ddd', 'postgres'] },
};
const large = {
  templateId: 'tpl_3q2Fk9bX0mLr7tVwYp1ZsA',
  variables: Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`v${i}`, i === 0 ? 'Meeting transcript. '.repeat(1000) : { text: `value ${i} é 💩`, n: i }])),
};

function perRequestUs(body: unknown): number {
  const parts = [body, {}, {}, headers];
  const rounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < N; i++) for (const p of parts) if (findFlaw(p)) throw new Error('flaw in clean input');
    rounds.push(Number(process.hrtime.bigint() - start) / 1000 / N);
  }
  return median(rounds);
}

console.log(`input guard, median of ${ROUNDS} rounds of ${N} requests`);
console.log(`  typical POST /v1/generate (${JSON.stringify(typical).length} B body, ${Object.keys(headers).length} headers): ${perRequestUs(typical).toFixed(2)} µs/request`);
console.log(`  large body (${JSON.stringify(large).length} B, 50 variables, one 20 KB string):  ${perRequestUs(large).toFixed(2)} µs/request`);
