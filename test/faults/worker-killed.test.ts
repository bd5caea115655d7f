import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { reply } from '../fakes/llm-server.js';
import { startCluster, type Cluster } from './cluster.js';

let c: Cluster;
// One API, and workers started by the test: the job's worker is then known. Short locks: a dead worker's job is found fast.
beforeAll(async () => {
  c = await startCluster({ apis: 1, workers: 0, env: { WORKER_LOCK_DURATION_MS: '1000', WORKER_STALLED_INTERVAL_MS: '500' } });
}, 90_000);
afterAll(() => c?.close());

describe('a worker SIGKILLed twice during one job', () => {
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

/** Streamed compat calls whose worker is SIGKILLed after some deltas were relayed: the real SDKs as clients. */
describe('a worker SIGKILLed mid-stream', () => {
  const TEXT = 'one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen';
  const keyOf = (auth: Record<string, string>) => auth.authorization!.replace(/^Bearer /, '');

  /** Reads `pieces` until `after` pieces arrived, then SIGKILLs the job's worker and starts another; the stream's end or its error. */
  async function killMidStream(pieces: AsyncIterable<string>, after: number) {
    const w = await c.startWorker();
    let text = '';
    let n = 0;
    let error: unknown;
    try {
      for await (const piece of pieces) {
        text += piece;
        if (piece && ++n === after) {
          await c.killWorker(w);
          await c.startWorker();
        }
      }
    } catch (err) {
      error = err;
    }
    return { text, n, error };
  }

  /** The job's rows by status (same input hash), and the provider calls for its prompt. */
  async function outcome(jobId: string, prompt: string) {
    const [{ hash } = { hash: '' }] = await c.sql<{ hash: string }>('select input_hash as hash from generations where id = $1', [jobId]);
    const settled = await c.until(`rows of ${jobId}`, () => c.sql<{ status: string; n: number }>(
      'select status, count(*)::int as n from generations where input_hash = $1 group by status order by status', [hash]),
    (rows) => rows.every((r) => r.status === 'completed' || r.status === 'dead'), 60_000);
    return { rows: Object.fromEntries(settled.map((r) => [r.status, r.n])), calls: c.llm.calls.filter((x) => x.prompt === prompt).length };
  }

  // The job's worker must be the one the test kills.
  beforeEach(async () => {
    for (const w of [...c.workers]) await c.killWorker(w);
  });

  it('OpenAI SDK: the stream ends in an APIError naming the job, a second worker completes it once, the cache replays it', async ({ annotate }) => {
    const { auth } = await c.tenant('unused');
    c.llm.script({ text: TEXT, pieces: 16, chunkDelayMs: 250 });
    c.llm.setDefault({ text: TEXT, pieces: 16 });
    const openai = new OpenAI({ baseURL: `${c.apis[0]}/v1`, apiKey: keyOf(auth), maxRetries: 0 });
    const params = { model: 'claude-haiku-4-5', messages: [{ role: 'user' as const, content: 'Killed mid-stream (openai)' }], stream: true as const };
    const { data: stream, response } = await openai.chat.completions.create(params).withResponse();
    const jobId = response.headers.get('x-promptlab-job-id')!;
    const got = await killMidStream((async function* () { for await (const ch of stream) yield ch.choices[0]?.delta.content ?? ''; })(), 3);
    await annotate(`relayed ${got.n} pieces (${JSON.stringify(got.text)}), then ${String(got.error)}`, 'client');

    expect(got.error).toBeInstanceOf(OpenAI.APIError);
    expect((got.error as Error).message).toContain(jobId);
    expect(TEXT.startsWith(got.text)).toBe(true); // no piece of the second run appended to the first's
    expect(got.text.length).toBeLessThan(TEXT.length);

    expect(await outcome(jobId, 'Killed mid-stream (openai)')).toEqual({ rows: { completed: 1 }, calls: 2 });
    const job = await c.get(0, `/v1/jobs/${jobId}`, auth);
    expect(job.body).toMatchObject({ status: 'completed', result: { text: TEXT } });

    let replayed = '';
    const again = await openai.chat.completions.create(params).withResponse();
    for await (const ch of again.data) replayed += ch.choices[0]?.delta.content ?? '';
    expect(replayed).toBe(TEXT);
    expect(again.response.headers.get('x-cache')).toBe('HIT');
    expect(c.llm.calls.filter((x) => x.prompt === 'Killed mid-stream (openai)')).toHaveLength(2);
    expect(c.crashed()).toEqual([]);
  }, 120_000);

  it('Anthropic SDK: messages.stream() rejects with an APIError, the job completes once', async ({ annotate }) => {
    const { auth } = await c.tenant('unused');
    c.llm.script({ text: TEXT, pieces: 16, chunkDelayMs: 250 });
    c.llm.setDefault({ text: TEXT, pieces: 16 });
    const anthropic = new Anthropic({ baseURL: c.apis[0], apiKey: keyOf(auth), maxRetries: 0 });
    const stream = anthropic.messages.stream({ model: 'claude-haiku-4-5', max_tokens: 200, messages: [{ role: 'user', content: 'Killed mid-stream (anthropic)' }] });
    const { response } = await stream.withResponse();
    const jobId = response.headers.get('x-promptlab-job-id')!;
    const got = await killMidStream((async function* () {
      for await (const ev of stream) if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') yield ev.delta.text;
    })(), 3);
    await annotate(`relayed ${got.n} pieces, then ${String(got.error)}`, 'client');

    expect(got.error).toBeInstanceOf(Anthropic.APIError);
    expect((got.error as Error).message).toContain(jobId);
    expect(TEXT.startsWith(got.text)).toBe(true);
    expect(await outcome(jobId, 'Killed mid-stream (anthropic)')).toEqual({ rows: { completed: 1 }, calls: 2 });
    expect(c.crashed()).toEqual([]);
  }, 120_000);
});
