import Anthropic from '@anthropic-ai/sdk';
import { answerText } from '../../llm/answer.js';
import type { GenerationResult, StreamDelta } from '../../llm/result.js';
import { guardProviderCall, sdkErrorMapping } from '../errors.js';
import type { Provider, ProviderCall } from '../types.js';
import { StreamedMessage } from './streamed.js';
import { messagesBody, outputBlockOf, stopReasonOf, usageOfMessage } from './wire.js';

/** Options of {@link createAnthropicProvider}. */
export interface AnthropicProviderOptions {
  apiKey: string;
  /** API root without `/v1` (the SDK appends it). @defaultValue `https://api.anthropic.com` */
  baseURL?: string;
  /** Per-call timeout; a slower call fails with a retryable `provider_timeout`. */
  timeoutMs: number;
}

/** The Anthropic SDK's errors in the retry table's terms (`errors.ts`). */
export const anthropicErrors = sdkErrorMapping(Anthropic);

/** A provider backed by the Anthropic Messages API (`POST /v1/messages`). */
export function createAnthropicProvider(opts: AnthropicProviderOptions): Provider {
  const client = new Anthropic({
    apiKey: opts.apiKey,
    // null, not undefined: config is parsed once at boot, so the SDK must not fall back to process.env.
    baseURL: opts.baseURL ?? null,
    timeout: opts.timeoutMs,
    // Retries belong to the job queue, which honours Retry-After and counts attempts.
    maxRetries: 0,
  });

  const bodyOf = (req: ProviderCall) => {
    const { signal: _signal, ...call } = req;
    return messagesBody(call) as unknown as Anthropic.MessageCreateParamsNonStreaming;
  };

  return {
    name: 'anthropic',
    async stream(req: ProviderCall, onDelta: (delta: StreamDelta) => void): Promise<GenerationResult> {
      // The timeout bounds the whole stream, as it bounds a whole answer.
      return guardProviderCall(opts.timeoutMs, req.signal, anthropicErrors, async (signal) => {
        const events = await client.messages.create({ ...bodyOf(req), stream: true }, { signal });
        const answer = new StreamedMessage(req.model, onDelta);
        for await (const e of events) answer.add(e as unknown as Parameters<StreamedMessage['add']>[0]);
        return answer.result();
      });
    },
    async generate(req: ProviderCall): Promise<GenerationResult> {
      const message = await guardProviderCall(opts.timeoutMs, req.signal, anthropicErrors, (signal) =>
        client.messages.create(bodyOf(req), { signal }),
      );
      const blocks = message.content.flatMap((b) => outputBlockOf(b as unknown as { type: string }) ?? []);
      const text = answerText(blocks);
      return {
        text, ...(blocks.every((b) => b.type === 'text') ? {} : { blocks }),
        ...usageOfMessage(message.usage),
        stopReason: stopReasonOf(message.stop_reason),
        model: message.model,
      };
    },
    async countTokens(req: ProviderCall): Promise<number> {
      const { max_tokens: _max, ...body } = bodyOf(req);
      const res = await guardProviderCall(opts.timeoutMs, req.signal, anthropicErrors, (signal) =>
        client.messages.countTokens(body as Anthropic.MessageCountTokensParams, { signal }));
      return res.input_tokens;
    },
  };
}
