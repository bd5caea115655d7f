/**
 * A local HTTP server that speaks the Anthropic Messages API (`POST /v1/messages`) and the
 * OpenAI Chat Completions API (`POST /v1/chat/completions`), so tests run the real SDKs
 * with no network. Replies are scripted (FIFO, then a default) and every request is
 * recorded. Node built-ins only: child processes get its URL as ANTHROPIC_BASE_URL /
 * OPENAI_BASE_URL, and `tsx test/fakes/llm-server.ts` runs it standalone.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';

export type Dialect = 'anthropic' | 'openai';

/** One scripted upstream answer; what it leaves out gets realistic defaults. */
export interface FakeReply {
  /** @defaultValue 200 */
  status?: number;
  headers?: Record<string, string>;
  /** A raw JSON body sent as is, instead of the generated one. */
  body?: unknown;
  /** The assistant's text (or the error message). @defaultValue derived from the prompt */
  text?: string;
  /** Wait before answering. @defaultValue 0 */
  delayMs?: number;
  /** `end`, `max_tokens` or `refusal`, translated per dialect; any other value is sent verbatim. @defaultValue `end` */
  stopReason?: string;
  /** @defaultValue ceil(chars / 4) of the prompt and of the text */
  usage?: { inputTokens?: number; outputTokens?: number };
  /**
   * Misbehave on the wire: `reset` closes the socket without answering; `stall-body` and
   * `reset-body` send the headers and half the body, then hang or close.
   */
  wire?: 'reset' | 'stall-body' | 'reset-body';
  /** A streamed reply (`stream: true`): pause between its events. @defaultValue 0 */
  chunkDelayMs?: number;
  /** A streamed reply: how many deltas the text is cut into. @defaultValue 4 */
  pieces?: number;
  /** The model the answer says answered (a dated snapshot, say). @defaultValue the requested one */
  model?: string;
}

/** A request the server received, with its system prompt and user prompt extracted. */
export interface FakeCall {
  dialect: Dialect | undefined;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: { model?: string; max_tokens?: number; system?: unknown; messages?: { role: string; content: unknown }[]; [k: string]: unknown };
  system: string | undefined;
  prompt: string;
  /** Epoch ms when the request arrived. */
  at: number;
  /** The client closed the connection before the answer was sent whole (an aborted call). */
  closedEarly?: boolean;
}

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

const ANTHROPIC_STOP: Record<string, string> = { end: 'end_turn', max_tokens: 'max_tokens', refusal: 'refusal' };
const OPENAI_STOP: Record<string, string> = { end: 'stop', max_tokens: 'length', refusal: 'stop' };
const ANTHROPIC_ERROR: Record<number, string> = {
  400: 'invalid_request_error', 401: 'authentication_error', 403: 'permission_error', 404: 'not_found_error',
  413: 'request_too_large', 429: 'rate_limit_error', 529: 'overloaded_error',
};
const OPENAI_ERROR: Record<number, [type: string, code: string | null]> = {
  400: ['invalid_request_error', null], 401: ['invalid_request_error', 'invalid_api_key'],
  404: ['invalid_request_error', 'model_not_found'], 429: ['requests', 'rate_limit_exceeded'],
};
const tokens = (s: string) => Math.ceil(s.length / 4);
const asText = (content: unknown): string =>
  typeof content === 'string' ? content
  : Array.isArray(content) ? content.map((b: { text?: unknown }) => (typeof b?.text === 'string' ? b.text : '')).join('')
  : '';

function record(dialect: Dialect | undefined, req: IncomingMessage, body: FakeCall['body']): FakeCall {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const system = dialect === 'anthropic' ? body.system : messages.find((m) => m.role === 'system')?.content;
  const user = messages.filter((m) => m.role === 'user').at(-1);
  return {
    dialect, method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, body,
    system: system === undefined ? undefined : asText(system), prompt: asText(user?.content), at: Date.now(),
  };
}

function errorBody(dialect: Dialect | undefined, status: number, message: string): unknown {
  if (dialect === 'anthropic') return { type: 'error', error: { type: ANTHROPIC_ERROR[status] ?? 'api_error', message } };
  const [type, code] = OPENAI_ERROR[status] ?? [status >= 500 ? 'server_error' : 'invalid_request_error', null];
  return { error: { message, type, code } };
}

function successBody(dialect: Dialect, call: FakeCall, r: FakeReply, n: number): unknown {
  const text = r.text ?? `fake upstream reply to: ${call.prompt.slice(0, 60)}`;
  const input = r.usage?.inputTokens ?? tokens(`${call.system ?? ''}${call.prompt}`);
  const output = r.usage?.outputTokens ?? tokens(text);
  const stop = r.stopReason ?? 'end';
  const model = r.model ?? call.body.model ?? 'unknown';
  if (dialect === 'anthropic') {
    return {
      id: `msg_fake_${n}`, type: 'message', role: 'assistant', model,
      content: [{ type: 'text', text }], stop_reason: ANTHROPIC_STOP[stop] ?? stop, stop_sequence: null,
      usage: { input_tokens: input, output_tokens: output },
    };
  }
  const refused = stop === 'refusal';
  return {
    id: `chatcmpl-fake-${n}`, object: 'chat.completion', created: Math.floor(Date.now() / 1000), model,
    choices: [{
      index: 0, finish_reason: OPENAI_STOP[stop] ?? stop,
      message: { role: 'assistant', content: refused ? null : text, refusal: refused ? text : null },
    }],
    usage: { prompt_tokens: input, completion_tokens: output, total_tokens: input + output },
  };
}

/** The SSE events of a streamed success: the text in `pieces` deltas (about four by default), in the dialect's event sequence. */
function streamEvents(dialect: Dialect, call: FakeCall, r: FakeReply, n: number): string[] {
  const whole = successBody(dialect, call, r, n) as Record<string, never>;
  const text = r.text ?? `fake upstream reply to: ${call.prompt.slice(0, 60)}`;
  const size = Math.max(1, Math.ceil(text.length / (r.pieces ?? 4)));
  const pieces: string[] = [];
  for (let i = 0; i < text.length; i += size) pieces.push(text.slice(i, i + size));
  const sse = (event: string | undefined, data: unknown) => `${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(data)}\n\n`;
  if (dialect === 'anthropic') {
    const m = whole as unknown as { id: string; model: string; stop_reason: string; usage: { input_tokens: number; output_tokens: number } };
    return [
      sse('message_start', { type: 'message_start', message: { id: m.id, type: 'message', role: 'assistant', model: m.model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: m.usage.input_tokens, output_tokens: 1 } } }),
      sse('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
      ...pieces.map((t) => sse('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: t } })),
      sse('content_block_stop', { type: 'content_block_stop', index: 0 }),
      sse('message_delta', { type: 'message_delta', delta: { stop_reason: m.stop_reason, stop_sequence: null }, usage: { output_tokens: m.usage.output_tokens } }),
      sse('message_stop', { type: 'message_stop' }),
    ];
  }
  const c = whole as unknown as { id: string; created: number; model: string; choices: { finish_reason: string }[]; usage: unknown };
  const chunk = (delta: unknown, finish: string | null) => ({ id: c.id, object: 'chat.completion.chunk', created: c.created, model: c.model, choices: [{ index: 0, delta, finish_reason: finish }] });
  const withUsage = (call.body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
  return [
    sse(undefined, chunk({ role: 'assistant', content: '' }, null)),
    ...pieces.map((t) => sse(undefined, chunk({ content: t }, null))),
    sse(undefined, chunk({}, c.choices[0]!.finish_reason)),
    ...(withUsage ? [sse(undefined, { id: c.id, object: 'chat.completion.chunk', created: c.created, model: c.model, choices: [], usage: c.usage })] : []),
    'data: [DONE]\n\n',
  ];
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

function invalid(dialect: Dialect, call: FakeCall, key: string | undefined): [number, string] | undefined {
  const auth = call.headers.authorization;
  if (key !== undefined && auth !== `Bearer ${key}` && call.headers['x-api-key'] !== key) return [401, 'invalid api key'];
  const { body } = call;
  if (typeof body.model !== 'string' || !Array.isArray(body.messages)) return [400, 'model and messages are required'];
  if (dialect === 'anthropic' && typeof body.max_tokens !== 'number') return [400, 'max_tokens: Field required'];
  return undefined;
}

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
    const dialect: Dialect | undefined =
      path === '/v1/messages' ? 'anthropic' : path === '/v1/chat/completions' ? 'openai' : undefined;
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
