import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { answerBlocks, deltasOf } from '../../llm/answer.js';
import { promptOf, type ContentBlock, type Message, type OutputBlock } from '../../llm/message.js';
import { systemText, type GenerationRequest } from '../../llm/request.js';
import type { GenerationResult } from '../../llm/result.js';
import { ProviderError } from '../errors.js';
import type { Provider, ProviderCall } from '../types.js';
import { exampleFor } from './example.js';

/** The fake provider's chat model, and the prefix of its embedding models (`fake-embed-1`, …). */
export const FAKE_MODEL = 'fake-1';
export const FAKE_EMBED_PREFIX = 'fake-embed';
/** Dimensions of a fake embedding when the request names none. */
const FAKE_DIMENSIONS = 256;

const STREAM_CHUNKS = 4;

/** Options of {@link createFakeProvider}. */
export interface FakeProviderOptions {
  /** Simulated latency per call; 0 answers on the microtask queue, with no timer. @defaultValue 50 (`FAKE_LATENCY_MS`) */
  latencyMs: number;
}

/** The fake provider's token estimate: about four characters per token. */
export const estimateTokens = (text: string): number => Math.ceil(text.length / 4);

/** An image or a document counts 85 tokens plus one per 750 bytes of it (inline), as a stand-in for a real model's vision tokens. */
function mediaTokens(b: ContentBlock): number {
  if (b.type !== 'image' && b.type !== 'document' && b.type !== 'audio') return 0;
  const data = b.type === 'audio' ? b.data : b.source.kind === 'url' ? '' : b.source.data;
  return 85 + Math.ceil((data.length * 3) / 4 / 750);
}

/** The fake's input tokens: its system and prompt text, every image and document, and the tools offered. */
function fakeInputTokens(req: Omit<GenerationRequest, 'provider'>): number {
  const media = req.messages.reduce((n, m) => n + (typeof m.content === 'string' ? 0 : m.content.reduce((k, b) => k + mediaTokens(b), 0)), 0);
  return estimateTokens(`${systemText(req.system) ?? ''}\n${promptOf(req.messages)}`) + media + (req.tools ? estimateTokens(JSON.stringify(req.tools)) : 0);
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** The last user message holds a tool result: the tool loop's turn to answer in text. */
const afterToolResult = (messages: readonly Message[]) => {
  const last = messages.at(-1);
  return last?.role === 'user' && typeof last.content !== 'string' && last.content.some((b) => b.type === 'tool_result');
};

/** The tool the fake calls, if any: the named one, else (unless `none`) the first one offered, unless it already has a tool's result. */
function toolToCall(req: Pick<GenerationRequest, 'tools' | 'toolChoice' | 'messages'>) {
  const tools = req.tools ?? [];
  const choice = req.toolChoice ?? 'auto';
  if (!tools.length || choice === 'none') return undefined;
  if (typeof choice === 'object') return tools.find((t) => t.name === choice.name);
  if (choice === 'auto' && afterToolResult(req.messages)) return undefined;
  return tools[0];
}

/**
 * The `fake` provider: no network, deterministic output for demos, tests and benchmarks.
 * - Text is `[fake] <hash of system+prompt> <start of prompt>`, the prompt being the one user
 *   message or every message as `role: content` lines (`promptOf`); after a tool result it
 *   says what the tool returned. With `responseFormat` it is JSON conforming to its schema.
 * - Offered tools (and `tool_choice` not `none`), it calls the named tool, else the first, with
 *   arguments made from the tool's JSON Schema; on `auto` it answers in text once a tool result is in.
 * - `reasoning` adds a thinking block; `fake-embed-*` models embed (deterministic unit vectors).
 * Tokens are estimated as ceil(chars / 4), plus 85 + bytes/750 per image or document; output
 * beyond `maxTokens` is cut off with `stopReason: 'max_tokens'`, like a real model.
 */
export function createFakeProvider(opts: FakeProviderOptions): Provider {
  const wait = async (signal?: AbortSignal) => {
    if (opts.latencyMs > 0) {
      await sleep(opts.latencyMs, undefined, signal ? { signal } : {}).catch((err: unknown) => {
        throw new ProviderError('provider_aborted', 'fake provider call aborted', { retryable: true, cause: err });
      });
    } else {
      await Promise.resolve();
    }
    if (signal?.aborted) throw new ProviderError('provider_aborted', 'fake provider call aborted', { retryable: true });
  };

  const provider: Provider = {
    name: 'fake',
    /** The same answer as `generate`, each text sent in up to STREAM_CHUNKS pieces. */
    async stream(req, onDelta) {
      const res = await provider.generate(req);
      for (const d of deltasOf(answerBlocks(res.text, res.blocks), STREAM_CHUNKS)) {
        await Promise.resolve();
        onDelta(d);
      }
      return res;
    },
    async generate(req: ProviderCall): Promise<GenerationResult> {
      await wait(req.signal);
      if (req.model.startsWith(FAKE_EMBED_PREFIX)) {
        throw new ProviderError('provider_bad_request', `${req.model} is an embedding model; use POST /v1/embeddings`, { status: 400, retryable: false });
      }
      const prompt = promptOf(req.messages);
      const input = `${systemText(req.system) ?? ''}\n${prompt}`;
      const digest = sha256(input);
      const tool = toolToCall(req);
      const blocks: OutputBlock[] = [];
      if (req.params.reasoning && req.params.reasoning.effort !== 'none') {
        blocks.push({ type: 'thinking', thinking: `[fake thinking] ${digest.slice(0, 12)}`, signature: `fake-sig-${digest.slice(0, 16)}` });
      }
      let full: string;
      if (tool) {
        full = JSON.stringify(exampleFor(tool.parameters, digest, tool.name));
        blocks.push({ type: 'tool_call', id: `call_fake_${digest.slice(0, 16)}`, name: tool.name, arguments: full });
      } else {
        full = req.responseFormat ? JSON.stringify(exampleFor(req.responseFormat.schema, digest, 'value'))
          : afterToolResult(req.messages) ? `[fake] ${digest.slice(0, 12)} the tool said: ${toolResultText(req.messages).slice(0, 80)}`
          : `[fake] ${digest.slice(0, 12)} ${prompt.slice(0, 80)}`;
      }
      const maxChars = Math.max(0, req.params.maxTokens) * 4;
      const text = tool ? '' : full.length > maxChars ? full.slice(0, maxChars) : full;
      if (!tool && blocks.length) blocks.push({ type: 'text', text });
      return {
        text,
        ...(blocks.length ? { blocks } : {}),
        inputTokens: fakeInputTokens(req),
        outputTokens: estimateTokens(tool ? full : text),
        stopReason: tool ? 'tool_use' : text === full ? 'end' : 'max_tokens',
        model: req.model.startsWith('fake-') ? req.model : FAKE_MODEL,
      };
    },
    async countTokens(req: ProviderCall): Promise<number> {
      return fakeInputTokens(req);
    },
    async embed(req: ProviderCall): Promise<GenerationResult> {
      await wait(req.signal);
      if (!req.model.startsWith(FAKE_EMBED_PREFIX)) {
        throw new ProviderError('provider_bad_request', `${req.model} does not embed; use ${FAKE_EMBED_PREFIX}-1`, { status: 400, retryable: false });
      }
      const task = req.embed!;
      const dims = task.dimensions ?? FAKE_DIMENSIONS;
      return {
        text: '', embeddings: task.inputs.map((s) => fakeVector(s, dims)),
        inputTokens: task.inputs.reduce((n, s) => n + estimateTokens(s), 0), outputTokens: 0, stopReason: 'end', model: req.model,
      };
    },
  };
  return provider;
}

/** The text of the tool results in the last message. */
function toolResultText(messages: readonly Message[]): string {
  const last = messages.at(-1)!;
  if (typeof last.content === 'string') return '';
  return last.content.map((b) => (b.type !== 'tool_result' ? '' : typeof b.content === 'string' ? b.content : b.content.map((x) => (x.type === 'text' ? x.text : '')).join(''))).join(' ');
}

/** A deterministic unit vector of `dims` float32s for `text`, as little-endian bytes in base64. */
export function fakeVector(text: string, dims: number): string {
  const v = new Float32Array(dims);
  let seed = createHash('sha256').update(text).digest();
  let norm = 0;
  for (let i = 0; i < dims; i++) {
    if (i % 8 === 0 && i) seed = createHash('sha256').update(seed).digest();
    const x = seed.readInt32LE((i % 8) * 4) / 2 ** 31;
    v[i] = x;
    norm += x * x;
  }
  const scale = 1 / Math.sqrt(norm || 1);
  for (let i = 0; i < dims; i++) v[i] = v[i]! * scale;
  return Buffer.from(v.buffer).toString('base64');
}
