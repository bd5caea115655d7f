import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reply } from '../fakes/llm-server.js';
import { countBy, sleep, startCluster, type Answer, type Cluster } from './cluster.js';

const INPUTS = 40;
const AT_ONCE = 10;
const LATER = 10;

let c: Cluster;
// Long locks: a busy machine must not make a live job look stalled and run twice.
beforeAll(async () => { c = await startCluster({ env: { WORKER_LOCK_DURATION_MS: '30000', WORKER_STALLED_INTERVAL_MS: '5000' } }); }, 90_000);
afterAll(() => c?.close());

describe('single flight across the completion boundary (2 API and 2 worker processes)', () => {
  // 200 ms: the late requests are spread over 400 ms, so some land right as the job completes.
  for (const [latencyMs, spreadMs] of [[0, 100], [20, 100], [200, 400]] as const) {
    it(`provider latency ${latencyMs} ms: ${INPUTS} inputs × ${AT_ONCE + LATER} requests → one provider call and one row per input`, async () => {
      const marker = `Single flight ${latencyMs}:`;
      const { auth, templateId } = await c.tenant(`${marker} {{topic}}`);
      c.llm.setDefault(reply.slow(latencyMs));
      const sends: Promise<{ input: number; answer: Answer }>[] = [];
      for (let input = 0; input < INPUTS; input++) {
        for (let j = 0; j < AT_ONCE + LATER; j++) {
          const delay = j < AT_ONCE ? 0 : ((j - AT_ONCE + 1) * spreadMs) / LATER;
          const api = (input * (AT_ONCE + LATER) + j) % 2;
          sends.push(sleep(delay).then(async () => ({
            input, answer: await c.post(api, '/v1/generate', auth, { templateId, variables: { topic: `topic ${input}` } }),
          })));
        }
      }
      const answers = await Promise.all(sends);
      const counts = await c.settled(templateId, 60_000);

      const calls = c.llm.calls.filter((k) => k.prompt.startsWith(marker));
      const callsPerPrompt = countBy(calls, (k) => k.prompt);
      const rows = await c.sql<{ input_hash: string; n: number }>(
        'select input_hash, count(*)::int as n from generations where template_id = $1 group by input_hash', [templateId]);
      const jobIds = new Map<number, Set<string>>();
      for (const { input, answer } of answers) {
        if (!jobIds.has(input)) jobIds.set(input, new Set());
        jobIds.get(input)!.add(answer.body?.jobId);
      }
      expect({
        statuses: Object.fromEntries(countBy(answers, (a) => String(a.answer.status))),
        providerCalls: calls.length,
        promptsCalled: callsPerPrompt.size,
        promptsCalledMoreThanOnce: [...callsPerPrompt.values()].filter((n) => n > 1).length,
        rows: rows.reduce((s, r) => s + r.n, 0),
        hashesWithSeveralRows: rows.filter((r) => r.n > 1).length,
        inputsWithSeveralJobIds: [...jobIds.values()].filter((s) => s.size > 1).length,
        rowStatuses: counts,
      }).toEqual({
        statuses: expect.any(Object),
        providerCalls: INPUTS,
        promptsCalled: INPUTS,
        promptsCalledMoreThanOnce: 0,
        rows: INPUTS,
        hashesWithSeveralRows: 0,
        inputsWithSeveralJobIds: 0,
        rowStatuses: { completed: INPUTS },
      });
      expect(answers.filter((a) => a.answer.status !== 200 && a.answer.status !== 202).map((a) => a.answer.body)).toEqual([]);
      expect(c.crashed()).toEqual([]);
    }, 120_000);
  }
});
