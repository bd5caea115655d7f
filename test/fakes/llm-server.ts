/**
 * A local HTTP server that speaks the Anthropic Messages API (`POST /v1/messages`, and
 * `/v1/messages/count_tokens`) and OpenAI's Chat Completions and Embeddings APIs
 * (`POST /v1/chat/completions`, `POST /v1/embeddings`), with tool calls, images and thinking
 * (`llm-wire.ts`), so tests run the real SDKs
 * with no network. Replies are scripted (FIFO, then a default) and every request is
 * recorded. Node built-ins only: child processes get its URL as ANTHROPIC_BASE_URL /
 * OPENAI_BASE_URL, and `tsx test/fakes/llm-server.ts` runs it standalone.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';

import { embeddingsBody, errorBody, invalid, record, streamEvents, successBody, tokens, type Dialect, type FakeCall, type FakeReply } from './llm-wire.js';

export type { Dialect, FakeCall, FakeReply, FakeToolCall } from './llm-wire.js';

/** Builders for common replies: `llm.script(reply.rateLimited(2), reply.ok('hi'))`. */
export const reply = {
  ok: (text?: string, usage?: FakeReply['usage']): FakeReply => ({ ...(text !== undefined && { text }), ...(usage && { usage }) }),
  error: (status: number, message = `fake upstream error ${status}`, headers?: Record<string, string>): FakeReply => ({
    status,
    text: message,
    ...(headers && { headers }),
  }),
  rateLimited: (retryAfterSeconds = 1) => reply.error(429, 'rate limited', { 'retry-after': String(retryAfterSeconds) }),
  serverError: (status = 500) => reply.error(status, 'internal server error'),
  overloaded: () => reply.error(529, 'overloaded'),
  unauthorized: () => reply.error(401, 'invalid api key'),
  slow: (delayMs: number, base: FakeReply = {}): FakeReply => ({ ...base, delayMs }),
  truncated: (text = 'this answer was cut off'): FakeReply => ({ text, stopReason: 'max_tokens' }),
  /** Answers like a tool-calling model, whatever it is asked (see FakeReply.agent). */
  agent: (): FakeReply => ({ agent: true }),
  /** The model asks for tools (one call each), with no text. */
  tools: (...calls: { name: string; arguments: string | Record<string, unknown>; id?: string }[]): FakeReply => ({ toolCalls: calls }),
  refusal: (text = "I can't help with that."): FakeReply => ({ text, stopReason: 'refusal' }),
  reset: (): FakeReply => ({ wire: 'reset' }),
  stalledBody: (): FakeReply => ({ wire: 'stall-body' }),
  resetMidBody: (): FakeReply => ({ wire: 'reset-body' }),
};

export interface FakeLlm {
  /** `http://127.0.0.1:<port>`, also the Anthropic SDK's `baseURL` (it appends `/v1`). */
  url: string;
  anthropicBaseUrl: string;
  /** `<url>/v1`: the OpenAI SDK's `baseURL` includes the version. */
  openaiBaseUrl: string;
  calls: FakeCall[];
  /** Queues replies, answered in order before the default one. */
  script(...replies: FakeReply[]): void;
  /** Replaces the reply given when the script is empty. */
  setDefault(reply: FakeReply): void;
  /** Forgets the calls and what is left of the script; the default reply back to the one it started with. */
  reset(): void;
  close(): Promise<void>;
}

export interface FakeLlmOptions {
  /** When set, requests must carry it (`x-api-key` or `Authorization: Bearer`), else 401. */
  apiKey?: string;
  /** @defaultValue `reply.ok()` */
  defaultReply?: FakeReply;
}

/** Writes `events` as an SSE response, `delayMs` apart; `reset-body` closes the socket halfway. */
async function sendStream(res: ServerResponse, events: string[], r: FakeReply): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const cut = r.wire === 'reset-body' || r.wire === 'stall-body' ? events.length >> 1 : events.length;
  for (const e of events.slice(0, cut)) {
    if (res.destroyed) return;
    res.write(e);
    if (r.chunkDelayMs) await new Promise((resolve) => setTimeout(resolve, r.chunkDelayMs));
  }
  if (r.wire === 'reset-body') return void res.socket?.destroy();
  if (r.wire !== 'stall-body') res.end();
}

const DIALECTS: Record<string, Dialect> = {
  '/v1/messages': 'anthropic', '/v1/messages/count_tokens': 'count_tokens', '/v1/chat/completions': 'openai', '/v1/embeddings': 'embeddings',
};

/** Starts a fake LLM server on an ephemeral port of 127.0.0.1. */
export async function startFakeLlm(opts: FakeLlmOptions = {}): Promise<FakeLlm> {
  const queue: FakeReply[] = [];
  const calls: FakeCall[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let fallback = opts.defaultReply ?? reply.ok();

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}, wire?: string) => {
    if (res.destroyed || res.headersSent) return;
    const json = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json), ...headers });
    if (!wire) return void res.end(json);
    res.write(json.slice(0, json.length >> 1), () => wire === 'reset-body' && res.socket?.destroy());
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const path = (req.url ?? '/').split('?')[0];
    const dialect: Dialect | undefined = DIALECTS[path ?? ''];
    let body: FakeCall['body'];
    try {
      body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
    } catch {
      body = {};
    }
    const call = record(dialect, req, body);
    calls.push(call);
    res.on('close', () => { if (!res.writableFinished) call.closedEarly = true; });
    if (!dialect || req.method !== 'POST') return send(res, 404, errorBody(dialect, 404, `no route ${req.method} ${path}`));
    const problem = invalid(dialect, call, opts.apiKey);
    if (problem) return send(res, problem[0], errorBody(dialect, ...problem));

    if (dialect === 'count_tokens') return send(res, 200, { input_tokens: tokens(`${call.system ?? ''}${call.prompt}`) });
    if (dialect === 'embeddings') return send(res, 200, embeddingsBody(call.body));
    const r = queue.shift() ?? fallback;
    const answer = () => {
      if (r.wire === 'reset') return void req.socket.destroy();
      const status = r.status ?? 200;
      if (call.body.stream === true && status < 400 && r.body === undefined) {
        return void sendStream(res, streamEvents(dialect, call, r, calls.length), r).catch(() => res.destroy());
      }
      const generated = status >= 400
        ? errorBody(dialect, status, r.text ?? `fake upstream error ${status}`)
        : successBody(dialect, call, r, calls.length);
      send(res, status, r.body ?? generated, r.headers, r.wire);
    };
    if (!r.delayMs) return answer();
    const timer = setTimeout(() => (timers.delete(timer), answer()), r.delayMs);
    timers.add(timer);
  };
  // A client that hangs up mid-request must not become an unhandled rejection in the test run.
  const server = createServer((req, res) => void handle(req, res).catch(() => res.destroy()));

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url, anthropicBaseUrl: url, openaiBaseUrl: `${url}/v1`, calls,
    script: (...replies) => void queue.push(...replies),
    setDefault: (r) => void (fallback = r),
    reset() {
      calls.length = 0;
      queue.length = 0;
      fallback = opts.defaultReply ?? reply.ok();
    },
    close: () => {
      for (const timer of timers) clearTimeout(timer);
      // Slow replies hold sockets open; destroy them so teardown never waits on one.
      server.closeAllConnections();
      return new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const llm = await startFakeLlm();
  console.log(JSON.stringify({ ANTHROPIC_BASE_URL: llm.anthropicBaseUrl, OPENAI_BASE_URL: llm.openaiBaseUrl }));
  process.once('SIGTERM', () => void llm.close());
  process.once('SIGINT', () => void llm.close());
}
