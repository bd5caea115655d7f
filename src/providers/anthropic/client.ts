import Anthropic from '@anthropic-ai/sdk';
import type { GenerationResult, StopReason } from '../../llm/result.js';
import { guardProviderCall, sdkErrorMapping } from '../errors.js';
import { systemPromptFor } from '../json-instruction.js';
import type { Provider, ProviderCall } from '../types.js';

/** Options of {@link createAnthropicProvider}. */
export interface AnthropicProviderOptions {
  apiKey: string;
  /** API root without `/v1` (the SDK appends it). @defaultValue `https://api.anthropic.com` */
  baseURL?: string;
  /** Per-call timeout; a slower call fails with a retryable `provider_timeout`. */
  timeoutMs: number;
}

const STOP_REASONS: Record<string, StopReason> = {
  end_turn: 'end',
  stop_sequence: 'end',
  max_tokens: 'max_tokens',
  model_context_window_exceeded: 'max_tokens',
  refusal: 'refusal',
};

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
    const system = systemPromptFor(req);
    return {
      model: req.model,
      max_tokens: req.params.maxTokens,
      messages: req.messages,
      ...(system !== undefined && { system }),
      ...(req.params.temperature !== undefined && { temperature: req.params.temperature }),
      ...(req.params.topP !== undefined && { top_p: req.params.topP }),
      ...(req.params.stop?.length && { stop_sequences: req.params.stop }),
    };
  };

  return {
    name: 'anthropic',
    async stream(req: ProviderCall, onDelta: (text: string) => void): Promise<GenerationResult> {
      // The timeout bounds the whole stream, as it bounds a whole answer.
      return guardProviderCall(opts.timeoutMs, req.signal, anthropicErrors, async (signal) => {
        const events = await client.messages.create({ ...bodyOf(req), stream: true }, { signal });
        let text = '';
        let model = req.model;
        let stop: string | null = null;
        const usage = { inputTokens: 0, outputTokens: 0 };
        for await (const e of events) {
          if (e.type === 'message_start') {
            model = e.message.model || model;
            usage.inputTokens = e.message.usage.input_tokens;
            usage.outputTokens = e.message.usage.output_tokens;
          } else if (e.type === 'content_block_delta' && e.delta.type === 'text_delta') {
            text += e.delta.text;
            onDelta(e.delta.text);
          } else if (e.type === 'message_delta') {
            stop = e.delta.stop_reason ?? stop;
            usage.outputTokens = e.usage.output_tokens;
          }
        }
        return { text, ...usage, model, stopReason: (stop ? STOP_REASONS[stop] : undefined) ?? 'other' };
      });
    },
    async generate(req: ProviderCall): Promise<GenerationResult> {
      const message = await guardProviderCall(opts.timeoutMs, req.signal, anthropicErrors, (signal) =>
        client.messages.create(bodyOf(req), { signal }),
      );
      const text = message.content.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join('');
      return {
        text,
        inputTokens: message.usage.input_tokens,
        outputTokens: message.usage.output_tokens,
        stopReason: (message.stop_reason && STOP_REASONS[message.stop_reason]) ?? 'other',
        model: message.model,
      };
    },
  };
}

