import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { promptOf } from '../../llm/message.js';
import type { GenerationResult } from '../../llm/result.js';
import { chunksOf } from '../../util/chunks.js';
import { ProviderError } from '../errors.js';
import type { Provider, ProviderCall } from '../types.js';
import { exampleFor } from './example.js';

/** The one model the fake provider has. */
export const FAKE_MODEL = 'fake-1';

const STREAM_CHUNKS = 4;

/** Options of {@link createFakeProvider}. */
export interface FakeProviderOptions {
  /** Simulated latency per call; 0 answers on the microtask queue, with no timer. @defaultValue 50 (`FAKE_LATENCY_MS`) */
  latencyMs: number;
}

type Schema = Record<string, unknown>;

/**
 * The `fake` provider: no network, deterministic output for demos, tests and benchmarks.
 * Text is `[fake] <hash of system+prompt> <start of prompt>`, the prompt being the one user
 * message or every message as `role: content` lines (`promptOf`); with `responseFormat` it is
 * a JSON document conforming to its schema. Tokens are estimated as ceil(chars / 4); output
 * beyond `maxTokens` is cut off with `stopReason: 'max_tokens'`, like a real model.
 */
export function createFakeProvider(opts: FakeProviderOptions): Provider {
  const provider: Provider = {
    name: 'fake',
    /** The same answer as `generate`, sent in up to STREAM_CHUNKS pieces. */
    async stream(req: ProviderCall, onDelta: (text: string) => void): Promise<GenerationResult> {
      const res = await provider.generate(req);
      for (const piece of chunksOf(res.text, STREAM_CHUNKS)) {
        await Promise.resolve();
        onDelta(piece);
      }
      return res;
    },
    async generate(req: ProviderCall): Promise<GenerationResult> {
      if (opts.latencyMs > 0) {
        await sleep(opts.latencyMs, undefined, req.signal ? { signal: req.signal } : {}).catch((err: unknown) => {
          throw new ProviderError('provider_aborted', 'fake provider call aborted', { retryable: true, cause: err });
        });
      } else {
        await Promise.resolve();
      }
      if (req.signal?.aborted) {
        throw new ProviderError('provider_aborted', 'fake provider call aborted', { retryable: true });
      }
      const prompt = promptOf(req.messages);
      const input = `${req.system ?? ''}\n${prompt}`;
      const digest = sha256(input);
      const full = req.responseFormat
        ? JSON.stringify(exampleFor(req.responseFormat.schema, digest, 'value'))
        : `[fake] ${digest.slice(0, 12)} ${prompt.slice(0, 80)}`;
      const maxChars = Math.max(0, req.params.maxTokens) * 4;
      const text = full.length > maxChars ? full.slice(0, maxChars) : full;
      return {
        text,
        inputTokens: estimateTokens(input),
        outputTokens: estimateTokens(text),
        stopReason: text === full ? 'end' : 'max_tokens',
        model: FAKE_MODEL,
      };
    },
  };
  return provider;
}


/** The fake provider's token estimate: about four characters per token. */
export const estimateTokens = (text: string): number => Math.ceil(text.length / 4);

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
