/**
 * What the fake LLM server says, in each provider's wire format: the Anthropic Messages API and
 * OpenAI's Chat Completions and Embeddings, answers held or streamed, with text, tool calls and
 * thinking, and errors in each vendor's body. Node built-ins only.
 */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';

export type Dialect = 'anthropic' | 'openai' | 'embeddings' | 'count_tokens';

/** A tool call a scripted reply makes: `arguments` as JSON text or as the object. */
export interface FakeToolCall {
  id?: string;
  name: string;
  arguments: string | Record<string, unknown>;
}

/** One scripted upstream answer; what it leaves out gets realistic defaults. */
export interface FakeReply {
  /** @defaultValue 200 */
  status?: number;
  headers?: Record<string, string>;
  /** A raw JSON body sent as is, instead of the generated one. */
  body?: unknown;
  /** The assistant's text (or the error message). @defaultValue derived from the prompt, or none when it calls tools */
  text?: string;
  /** Tool calls after the text: the stop reason is then `tool_use` unless given. */
  toolCalls?: FakeToolCall[];
  /** Reasoning before the answer (Anthropic `thinking`, with this signature). */
  thinking?: { thinking: string; signature: string };
  /** Wait before answering. @defaultValue 0 */
  delayMs?: number;
  /** `end`, `max_tokens`, `refusal`, `tool_use` or `content_filter`, translated per dialect; any other value is sent verbatim. @defaultValue `end` */
  stopReason?: string;
  /** @defaultValue ceil(chars / 4) of the prompt and of the text */
  usage?: { inputTokens?: number; outputTokens?: number; cacheReadTokens?: number; cacheWriteTokens?: number; reasoningTokens?: number };
  /**
   * Misbehave on the wire: `reset` closes the socket without answering; `stall-body` and
   * `reset-body` send the headers and half the body, then hang or close.
   */
  wire?: 'reset' | 'stall-body' | 'reset-body';
  /** A streamed reply (`stream: true`): pause between its events. @defaultValue 0 */
  chunkDelayMs?: number;
  /** A streamed reply: how many deltas the text (and each tool call's arguments) is cut into. @defaultValue 4 */
  pieces?: number;
  /** The model the answer says answered (a dated snapshot, say). @defaultValue the requested one */
  model?: string;
  /**
   * Behave like a tool-calling model: offered tools and no tool result yet, call the first tool
   * (or the one `tool_choice` names) with arguments made from its schema; after a tool result,
   * answer in text naming what the tool said.
   */
  agent?: boolean;
}

/** A request the server received, with its system prompt and user prompt extracted. */
export interface FakeCall {
  dialect: Dialect | undefined;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: { model?: string; max_tokens?: number; system?: unknown; messages?: { role: string; content: unknown }[]; input?: unknown; [k: string]: unknown };
  system: string | undefined;
  prompt: string;
  /** Epoch ms when the request arrived. */
  at: number;
  /** The client closed the connection before the answer was sent whole (an aborted call). */
  closedEarly?: boolean;
}

const ANTHROPIC_STOP: Record<string, string> = { end: 'end_turn', max_tokens: 'max_tokens', refusal: 'refusal', tool_use: 'tool_use', content_filter: 'refusal' };
const OPENAI_STOP: Record<string, string> = { end: 'stop', max_tokens: 'length', refusal: 'stop', tool_use: 'tool_calls', content_filter: 'content_filter' };
const ANTHROPIC_ERROR: Record<number, string> = {
  400: 'invalid_request_error', 401: 'authentication_error', 403: 'permission_error', 404: 'not_found_error',
  413: 'request_too_large', 429: 'rate_limit_error', 529: 'overloaded_error',
};
const OPENAI_ERROR: Record<number, [type: string, code: string | null]> = {
  400: ['invalid_request_error', null], 401: ['invalid_request_error', 'invalid_api_key'],
  404: ['invalid_request_error', 'model_not_found'], 429: ['requests', 'rate_limit_exceeded'],
};
export const tokens = (s: string): number => Math.ceil(s.length / 4);
const asText = (content: unknown): string =>
  typeof content === 'string' ? content
  : Array.isArray(content) ? content.map((b: { text?: unknown }) => (typeof b?.text === 'string' ? b.text : '')).join('')
  : '';

export function record(dialect: Dialect | undefined, req: IncomingMessage, body: FakeCall['body']): FakeCall {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const system = dialect === 'anthropic' || dialect === 'count_tokens' ? body.system : messages.find((m) => m.role === 'system')?.content;
  const user = messages.filter((m) => m.role === 'user').at(-1);
  return {
    dialect, method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, body,
    system: system === undefined ? undefined : asText(system), prompt: asText(user?.content), at: Date.now(),
  };
}

export function errorBody(dialect: Dialect | undefined, status: number, message: string): unknown {
  if (dialect === 'anthropic' || dialect === 'count_tokens') return { type: 'error', error: { type: ANTHROPIC_ERROR[status] ?? 'api_error', message } };
  const [type, code] = OPENAI_ERROR[status] ?? [status >= 500 ? 'server_error' : 'invalid_request_error', null];
  return { error: { message, type, code } };
}

type Tool = { name?: string; function?: { name?: string; parameters?: Schema }; input_schema?: Schema; parameters?: Schema };
type Schema = { properties?: Record<string, { type?: string }>; required?: string[] };

/** Arguments made from a tool's schema: each required property a plain value of its type. */
const argumentsFor = (schema: Schema | undefined) =>
  Object.fromEntries((schema?.required ?? Object.keys(schema?.properties ?? {})).map((k) => {
    const t = schema?.properties?.[k]?.type;
    return [k, t === 'number' || t === 'integer' ? 1 : t === 'boolean' ? true : 'Paris'];
  }));

/** The text of the tool results in the last message, in either dialect; undefined when it holds none. */
function lastToolResult(body: FakeCall['body']): string | undefined {
  const last = (body.messages ?? []).at(-1);
  if (last?.role === 'tool') return asText(last.content);
  if (last?.role === 'user' && Array.isArray(last.content)) {
    const results = (last.content as { type?: string; content?: unknown }[]).filter((b) => b.type === 'tool_result');
    if (results.length) return results.map((b) => asText(b.content)).join(' ');
  }
  return undefined;
}

/** What an `agent` reply does with the request: call a tool, or answer a tool's result. */
function agentTurn(call: FakeCall): Pick<FakeReply, 'text' | 'toolCalls'> {
  const said = lastToolResult(call.body);
  if (said !== undefined) return { text: `The tool said: ${said}` };
  const tools = (call.body.tools ?? []) as Tool[];
  const choice = call.body.tool_choice as { name?: string; function?: { name?: string } } | string | undefined;
  const named = typeof choice === 'object' ? (choice.name ?? choice.function?.name) : undefined;
  const tool = tools.find((t) => (t.name ?? t.function?.name) === named) ?? tools[0];
  if (!tool || choice === 'none') return {};
  const name = tool.name ?? tool.function?.name ?? 'tool';
  const id = `call_${createHash('sha256').update(JSON.stringify(call.body.messages)).digest('hex').slice(0, 12)}`;
  return { toolCalls: [{ id, name, arguments: argumentsFor(tool.input_schema ?? tool.parameters ?? tool.function?.parameters) }] };
}

/** A scripted reply's parts: text (none by default when it calls tools), tool calls with ids, usage, stop reason. */
function partsOf(call: FakeCall, given: FakeReply, n: number) {
  const r = given.agent ? { ...given, ...agentTurn(call) } : given;
  const calls = (r.toolCalls ?? []).map((c, i) => ({
    id: c.id ?? `call_fake_${n}_${i}`, name: c.name, arguments: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments),
  }));
  const text = r.text ?? (calls.length ? '' : `fake upstream reply to: ${call.prompt.slice(0, 60)}`);
  const u = r.usage ?? {};
  return {
    text, calls,
    input: u.inputTokens ?? tokens(`${call.system ?? ''}${call.prompt}`),
    output: u.outputTokens ?? tokens(text + calls.map((c) => c.arguments).join('')),
    stop: r.stopReason ?? (calls.length ? 'tool_use' : 'end'),
    model: r.model ?? call.body.model ?? 'unknown',
  };
}

export function successBody(dialect: 'anthropic' | 'openai', call: FakeCall, r: FakeReply, n: number): unknown {
  const p = partsOf(call, r, n);
  const u = r.usage ?? {};
  if (dialect === 'anthropic') {
    return {
      id: `msg_fake_${n}`, type: 'message', role: 'assistant', model: p.model,
      content: [
        ...(r.thinking ? [{ type: 'thinking', ...r.thinking }] : []),
        ...(p.text ? [{ type: 'text', text: p.text }] : []),
        ...p.calls.map((c) => ({ type: 'tool_use', id: c.id, name: c.name, input: JSON.parse(c.arguments || '{}') })),
      ],
      stop_reason: ANTHROPIC_STOP[p.stop] ?? p.stop, stop_sequence: null,
      usage: { input_tokens: p.input, output_tokens: p.output, cache_read_input_tokens: u.cacheReadTokens ?? 0, cache_creation_input_tokens: u.cacheWriteTokens ?? 0 },
    };
  }
  const refused = p.stop === 'refusal';
  return {
    id: `chatcmpl-fake-${n}`, object: 'chat.completion', created: Math.floor(Date.now() / 1000), model: p.model,
    choices: [{
      index: 0, finish_reason: OPENAI_STOP[p.stop] ?? p.stop,
      message: {
        role: 'assistant', content: refused || (p.calls.length && !p.text) ? null : p.text, refusal: refused ? p.text : null,
        ...(p.calls.length ? { tool_calls: p.calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })) } : {}),
      },
    }],
    usage: {
      prompt_tokens: p.input, completion_tokens: p.output, total_tokens: p.input + p.output,
      prompt_tokens_details: { cached_tokens: u.cacheReadTokens ?? 0 }, completion_tokens_details: { reasoning_tokens: u.reasoningTokens ?? 0 },
    },
  };
}

const cut = (text: string, pieces: number): string[] => {
  const size = Math.max(1, Math.ceil(text.length / pieces));
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
};
const sse = (event: string | undefined, data: unknown) => `${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(data)}\n\n`;

/** The SSE events of a streamed success, in the dialect's event sequence: thinking, text, then each tool call, cut into `pieces`. */
export function streamEvents(dialect: 'anthropic' | 'openai', call: FakeCall, r: FakeReply, n: number): string[] {
  const p = partsOf(call, r, n);
  const pieces = r.pieces ?? 4;
  const whole = successBody(dialect, call, r, n) as Record<string, never>;
  if (dialect === 'anthropic') {
    const m = whole as unknown as { id: string; model: string; stop_reason: string; usage: Record<string, number> };
    const ev = (type: string, data: Record<string, unknown>) => sse(type, { type, ...data });
    const out = [ev('message_start', { message: { id: m.id, type: 'message', role: 'assistant', model: m.model, content: [], stop_reason: null, stop_sequence: null, usage: { ...m.usage, output_tokens: 1 } } })];
    let index = 0;
    const block = (start: unknown, deltas: unknown[]) => {
      out.push(ev('content_block_start', { index, content_block: start }), ...deltas.map((delta) => ev('content_block_delta', { index, delta })), ev('content_block_stop', { index }));
      index++;
    };
    if (r.thinking) block({ type: 'thinking', thinking: '', signature: '' }, [...cut(r.thinking.thinking, pieces).map((t) => ({ type: 'thinking_delta', thinking: t })), { type: 'signature_delta', signature: r.thinking.signature }]);
    if (p.text || !p.calls.length) block({ type: 'text', text: '' }, cut(p.text, pieces).map((t) => ({ type: 'text_delta', text: t })));
    for (const c of p.calls) block({ type: 'tool_use', id: c.id, name: c.name, input: {} }, [{ type: 'input_json_delta', partial_json: '' }, ...cut(c.arguments, pieces).map((a) => ({ type: 'input_json_delta', partial_json: a }))]);
    out.push(ev('message_delta', { delta: { stop_reason: m.stop_reason, stop_sequence: null }, usage: { output_tokens: m.usage.output_tokens } }), ev('message_stop', {}));
    return out;
  }
  const c = whole as unknown as { id: string; created: number; model: string; choices: { finish_reason: string }[]; usage: unknown };
  const chunk = (delta: unknown, finish: string | null) => sse(undefined, { id: c.id, object: 'chat.completion.chunk', created: c.created, model: c.model, choices: [{ index: 0, delta, finish_reason: finish }] });
  const withUsage = (call.body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
  const refused = p.stop === 'refusal';
  return [
    chunk({ role: 'assistant', content: '' }, null),
    ...cut(p.text, pieces).map((t) => chunk(refused ? { refusal: t } : { content: t }, null)),
    ...p.calls.flatMap((tc, i) => [
      chunk({ tool_calls: [{ index: i, id: tc.id, type: 'function', function: { name: tc.name, arguments: '' } }] }, null),
      ...cut(tc.arguments, pieces).map((a) => chunk({ tool_calls: [{ index: i, function: { arguments: a } }] }, null)),
    ]),
    chunk({}, c.choices[0]!.finish_reason),
    ...(withUsage ? [sse(undefined, { id: c.id, object: 'chat.completion.chunk', created: c.created, model: c.model, choices: [], usage: c.usage })] : []),
    'data: [DONE]\n\n',
  ];
}

/** A deterministic unit vector for `text`, `dims` long. */
function vector(text: string, dims: number): number[] {
  const h = createHash('sha256').update(text).digest();
  const v = Array.from({ length: dims }, (_, i) => h.readInt8(i % 32) / 128 + i / (dims * 10));
  const norm = Math.sqrt(v.reduce((n, x) => n + x * x, 0)) || 1;
  return v.map((x) => Math.fround(x / norm));
}

/** `POST /v1/embeddings` in OpenAI's format: one vector per input, as floats or as base64 of little-endian float32s. */
export function embeddingsBody(body: FakeCall['body']): unknown {
  const inputs = typeof body.input === 'string' ? [body.input] : (body.input as string[]);
  const dims = typeof body.dimensions === 'number' ? body.dimensions : 8;
  const base64 = body.encoding_format === 'base64';
  return {
    object: 'list', model: body.model,
    data: inputs.map((s, index) => {
      const v = vector(s, dims);
      return { object: 'embedding', index, embedding: base64 ? Buffer.from(new Float32Array(v).buffer).toString('base64') : v };
    }),
    usage: { prompt_tokens: inputs.reduce((n, s) => n + tokens(s), 0), total_tokens: inputs.reduce((n, s) => n + tokens(s), 0) },
  };
}

/** What makes a request invalid before any reply is scripted, as the real API would say it. */
export function invalid(dialect: Dialect, call: FakeCall, key: string | undefined): [number, string] | undefined {
  const auth = call.headers.authorization;
  if (key !== undefined && auth !== `Bearer ${key}` && call.headers['x-api-key'] !== key) return [401, 'invalid api key'];
  const { body } = call;
  if (dialect === 'embeddings') return typeof body.model === 'string' && (typeof body.input === 'string' || Array.isArray(body.input)) ? undefined : [400, 'model and input are required'];
  if (typeof body.model !== 'string' || !Array.isArray(body.messages)) return [400, 'model and messages are required'];
  if (dialect === 'anthropic' && typeof body.max_tokens !== 'number') return [400, 'max_tokens: Field required'];
  return undefined;
}
