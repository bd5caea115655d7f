/**
 * `npm run bench:stream`: a streamed completion of 200 deltas, the fake OpenAI server sending
 * one every PACE_MS (default 2), called (a) directly at the fake server with the OpenAI SDK
 * and (b) through PromptLab (`/v1/chat/completions`, `stream: true`, each call a new input, so
 * each is admitted, run by the in-process worker and relayed from the job's event stream),
 * alternating, RUNS (default 40) of each. Prints time to first token and total time, p50/p99,
 * and the TTFT overhead. Then (c) the cached replay of one answer, CONCURRENCY (default 20)
 * streams at once for DURATION_S (default 5) seconds: streams/s. Last, the same direct/through
 * comparison for (d) a tool call whose arguments stream in 200 pieces (first token: the first
 * tool_calls delta) and (e) the text answer to a request carrying a 4 MB base64 image, with
 * each one's TTFT overhead beside the plain-text case's. PromptLab (API and worker, as `npm start`
 * runs them) runs in a child process, the clients and the fake provider here, so that they do not
 * share its event loop (IN_PROCESS=1: all in this one). The (b) runs are broken down stage by stage
 * from the moments the server publishes (src/telemetry/stages.ts). Each (b) call finds a provider slot
 * free, so it is started where it was admitted (LOCAL_START); LOCAL_START=false sends every job
 * through BullMQ, as a process without a worker of its own does.
 */
import OpenAI from 'openai';
import { startFakeLlm } from '../test/fakes/llm-server.js';
import { startWorker } from '../workers/worker.js';
import { fileURLToPath } from 'node:url';
import { subscribe } from 'node:diagnostics_channel';
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { benchApp, childExecArgv, clusterSideBySide, fmt, pool } from './support.js';

const RUNS = Number(process.env.RUNS ?? 40);
const PACE_MS = Number(process.env.PACE_MS ?? 2);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 20);
const DURATION_S = Number(process.env.DURATION_S ?? 5);
const TEXT = Array.from({ length: 200 }, (_, i) => `tok${i} `).join('');

/** Where the time to first token goes: each job's first moment of each stage (src/telemetry/stages.ts), as epoch ms. */
type Moments = Map<string, Map<string, number>>;
const now = () => performance.timeOrigin + performance.now();

/** PromptLab as `npm start` runs it, API and worker in one process, calling the fake provider at `llmUrl`. */
async function startServer(llmUrl: string) {
  const { config, database, redis, queues, app, close } = await benchApp({
    OPENAI_API_KEY: 'sk-bench', OPENAI_BASE_URL: llmUrl, RATE_LIMIT_ENTERPRISE: '1000000', RATE_LIMIT_WINDOW_MS: '1000',
    // On shared cores a limiter check may wait past production's 50 ms: a 503 there would end the run, not time it.
    RATE_LIMIT_TIMEOUT_MS: '1000',
    ...(process.env.LOCAL_START ? { LOCAL_START: process.env.LOCAL_START } : {}),
  });
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  const worker = startWorker({ config, database, redis, queues, registry: app.deps.registry, svc: app.svc, log: app.log as never });
  const { key } = await app.svc.apiKeys.create({ name: 'bench', tier: 'enterprise', role: 'admin', projectId: 'default' });
  const moments: Moments = new Map();
  subscribe('promptlab:stage', (m) => {
    const { jobId, stage, at } = m as { jobId: string; stage: string; at: number };
    const job = moments.get(jobId) ?? moments.set(jobId, new Map()).get(jobId)!;
    if (!job.has(stage)) job.set(stage, performance.timeOrigin + at);
  });
  return { base, key, moments: async () => moments, close: async () => { await worker.close(); await close(); } };
}

// The server in a child process (IN_PROCESS=1: in this one), so that the clients and the fake provider here do not share its loop.
if (process.argv[2] === 'serve') {
  const server = await startServer(process.env.LLM_URL!);
  process.on('message', async (msg: { cmd: string }) => {
    if (msg.cmd === 'moments') process.send!({ moments: [...(await server.moments())].map(([id, m]) => [id, [...m]]) });
    if (msg.cmd === 'close') { await server.close(); process.exit(0); }
  });
  process.send!({ base: server.base, key: server.key });
} else {
  await main();
}

async function main() {
  if (await clusterSideBySide(fileURLToPath(import.meta.url), { label: 'TTFT through PromptLab, p50 ms (lower is better)', re: /^\(b\) through PromptLab\s+TTFT p50\s+([\d.]+)/m, higherIsBetter: false })) process.exit(0);
  const llm = await startFakeLlm();
  llm.setDefault({ text: TEXT, pieces: 200, chunkDelayMs: PACE_MS });
  const server = process.env.IN_PROCESS ? await startServer(llm.openaiBaseUrl) : await serveInChild(llm.openaiBaseUrl);
  const { base, key } = server;
  const direct = new OpenAI({ baseURL: llm.openaiBaseUrl, apiKey: 'sk-bench', maxRetries: 0 });
  const through = new OpenAI({ baseURL: `${base}/v1`, apiKey: key, maxRetries: 0 });
  const ARGS = JSON.stringify({ query: Array.from({ length: 200 }, (_, i) => `arg${i}`).join(' ') });
  const IMAGE = `data:image/png;base64,${Buffer.alloc(3 * 1024 * 1024, 7).toString('base64')}`;
  const TOOLS = [{ type: 'function' as const, function: { name: 'lookup', parameters: { type: 'object', properties: { query: { type: 'string' } } } } }];
  type Kind = 'text' | 'tool' | 'image';

  const STAGES = [['request', 'admitted', 'HTTP, auth, limiter, cache, token hold, admission statement'], ['admitted', 'enqueued', 'fair slot and BullMQ add'],
    ['enqueued', 'picked', 'worker pick-up'], ['picked', 'claimed', 'claim (Postgres)'], ['admitted', 'claimed', 'admitted to claimed (started here: nothing between)'],
    ['claimed', 'calling', 'slot, stash, provider request built'],
    ['calling', 'delta', 'provider: first piece (direct TTFT)'], ['delta', 'relayed', 'event to the API (Redis stream)'], ['relayed', 'token', 'SSE to the client']] as const;
  /** The (b) text runs: job id, start and first token (epoch ms), for the stage table. */
  const throughRuns: { id: string; request: number; token: number }[] = [];


  /** One streamed call: ms to the first delta (text, or a tool call) and to the end; the answer must be whole. */
  async function timed(client: OpenAI, content: string, kind: Kind = 'text'): Promise<{ ttft: number; total: number }> {
    const start = performance.now();
    const startedAt = now();
    let id = '';
    let tokenAt = NaN;
    let ttft = NaN;
    let text = '';
    let args = '';
    const user = kind === 'image' ? [{ type: 'text' as const, text: content }, { type: 'image_url' as const, image_url: { url: IMAGE } }] : content;
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini', messages: [{ role: 'user', content: user }], stream: true, ...(kind === 'tool' ? { tools: TOOLS } : {}),
    });
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta;
      id = chunk.id;
      if ((delta?.content || delta?.tool_calls) && Number.isNaN(ttft)) {
        ttft = performance.now() - start;
        tokenAt = now();
      }
      text += delta?.content ?? '';
      args += delta?.tool_calls?.[0]?.function?.arguments ?? '';
    }
    if (kind === 'tool' ? args !== ARGS : text !== TEXT) throw new Error(`incomplete stream: ${text.length} of ${TEXT.length} chars`);
    if (client === through && kind === 'text') throughRuns.push({ id, request: startedAt, token: tokenAt });
    return { ttft, total: performance.now() - start };
  }

  const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;
  const a: { ttft: number; total: number }[] = [];
  const b: { ttft: number; total: number }[] = [];
  for (let i = 0; i < 5; i++) await Promise.all([timed(direct, `warm ${i}`), timed(through, `warm ${i}`)]);
  for (let i = 0; i < RUNS; i++) {
    a.push(await timed(direct, `direct ${i}`));
    b.push(await timed(through, `through ${i}`));
  }
  const row = (name: string, xs: { ttft: number; total: number }[]) =>
    console.log(`${name.padEnd(22)} TTFT p50 ${fmt(pct(xs.map((x) => x.ttft), 50), 1).padStart(6)} ms  p99 ${fmt(pct(xs.map((x) => x.ttft), 99), 1).padStart(6)} ms   total p50 ${fmt(pct(xs.map((x) => x.total), 50), 1).padStart(6)} ms  p99 ${fmt(pct(xs.map((x) => x.total), 99), 1).padStart(6)} ms`);
  console.log(`200 deltas, one every ${PACE_MS} ms, ${RUNS} runs each`);
  row('(a) direct', a);
  row('(b) through PromptLab', b);
  console.log(`TTFT overhead: p50 ${fmt(pct(b.map((x) => x.ttft), 50) - pct(a.map((x) => x.ttft), 50), 1)} ms, p99 ${fmt(pct(b.map((x) => x.ttft), 99) - pct(a.map((x) => x.ttft), 99), 1)} ms`);
  const moments = await server.moments();
  const stageRuns = throughRuns.flatMap((r) => (moments.get(r.id) ? [new Map([...moments.get(r.id)!, ['request', r.request], ['token', r.token]])] : []));
  const localRuns = stageRuns.filter((r) => !r.has('enqueued')).length;
  console.log(`(b) time to first token by stage, ms (p50, p99 of ${stageRuns.length} runs, ${localRuns} started where admitted; the first and last across processes, on their clocks):`);
  for (const [from, to, what] of STAGES) {
    const gaps = stageRuns.map((r) => r.get(to)! - r.get(from)!).filter((x) => !Number.isNaN(x));
    const cell = (p: number) => (gaps.length ? fmt(pct(gaps, p), 2) : '-').padStart(6);
    console.log(`    ${`${from} -> ${to}`.padEnd(22)} ${cell(50)} ${cell(99)}   ${what}`);
  }

  await timed(through, 'replayed');
  const until = performance.now() + DURATION_S * 1000;
  let streams = 0;
  await pool(Number.MAX_SAFE_INTEGER, CONCURRENCY, async () => {
    if (performance.now() >= until) throw new Error('stop');
    await timed(through, 'replayed');
    streams++;
  }).catch((err: unknown) => { if ((err as Error).message !== 'stop') throw err; });
  console.log(`(c) cached replay: ${fmt(streams / DURATION_S)} streams/s (${CONCURRENCY} at once, 200-delta text in 8 pieces)`);

  /** Direct and through, alternating, for one kind of answer: the TTFT overhead at p50 and p99. */
  async function overhead(kind: Kind): Promise<[number, number]> {
    const d: { ttft: number; total: number }[] = [];
    const t: { ttft: number; total: number }[] = [];
    for (let i = 0; i < 3; i++) await Promise.all([timed(direct, `${kind} warm ${i}`, kind), timed(through, `${kind} warm ${i}`, kind)]);
    for (let i = 0; i < RUNS; i++) {
      d.push(await timed(direct, `${kind} direct ${i}`, kind));
      t.push(await timed(through, `${kind} through ${i}`, kind));
    }
    row(`(${kind === 'tool' ? 'd' : 'e'}) ${kind} direct`, d);
    row(`    ${kind} through`, t);
    return [pct(t.map((x) => x.ttft), 50) - pct(d.map((x) => x.ttft), 50), pct(t.map((x) => x.ttft), 99) - pct(d.map((x) => x.ttft), 99)];
  }
  const textOverhead = [pct(b.map((x) => x.ttft), 50) - pct(a.map((x) => x.ttft), 50), pct(b.map((x) => x.ttft), 99) - pct(a.map((x) => x.ttft), 99)];
  llm.setDefault({ toolCalls: [{ name: 'lookup', arguments: ARGS }], pieces: 200, chunkDelayMs: PACE_MS });
  const tool = await overhead('tool');
  llm.setDefault({ text: TEXT, pieces: 200, chunkDelayMs: PACE_MS });
  const image = await overhead('image');
  for (const [name, [p50, p99]] of [['tool call', tool], ['4 MB image', image]] as const) {
    console.log(`${name} TTFT overhead: p50 ${fmt(p50, 1)} ms, p99 ${fmt(p99, 1)} ms; beside plain text: p50 ${fmt(p50 - textOverhead[0]!, 1)} ms, p99 ${fmt(p99 - textOverhead[1]!, 1)} ms   target within 1 ms`);
  }

  await server.close();
  await llm.close();
  process.exit(0);
}

/** startServer in a child process: its address and key, its moments and its end over IPC. */
async function serveInChild(llmUrl: string): Promise<{ base: string; key: string; moments(): Promise<Moments>; close(): Promise<void> }> {
  const child = fork(fileURLToPath(import.meta.url), ['serve'], { execArgv: childExecArgv, env: { ...process.env, LLM_URL: llmUrl }, stdio: 'inherit' });
  const next = <T>() => new Promise<T>((resolve) => child.once('message', (m) => resolve(m as T)));
  const { base, key } = await next<{ base: string; key: string }>();
  return {
    base, key,
    async moments() {
      const reply = next<{ moments: [string, [string, number][]][] }>();
      child.send({ cmd: 'moments' });
      return new Map((await reply).moments.map(([id, m]) => [id, new Map(m)]));
    },
    async close() {
      const exited = once(child, 'exit');
      child.send({ cmd: 'close' });
      await exited;
    },
  };
}
