import OpenAI from 'openai';
import type { GenerationResult, StopReason } from '../../llm/result.js';
import { guardProviderCall, sdkErrorMapping } from '../errors.js';
import { systemPromptFor } from '../json-instruction.js';
import type { Provider, ProviderCall } from '../types.js';

/** Options of {@link createOpenAIProvider}. */
export interface OpenAIProviderOptions {
  /** The registry name it answers to. @defaultValue `openai` */
  name?: string;
  /** Optional so a local OpenAI-compatible server (Ollama, vLLM, LM Studio) needs none. */
  apiKey?: string;
  /** API root including `/v1`, e.g. `http://127.0.0.1:11434/v1`. @defaultValue `https://api.openai.com/v1` */
  baseURL?: string;
  /** Per-call timeout; a slower call fails with a retryable `provider_timeout`. */
  timeoutMs: number;
  /**
   * The request field carrying `maxTokens`. OpenAI itself rejects the deprecated
   * `max_tokens` for reasoning models (gpt-5, o-series); compatible servers may not know
   * `max_completion_tokens`.
   * @defaultValue `max_completion_tokens` for api.openai.com (no `baseURL`), else `max_tokens`
   */
  tokenLimitField?: 'max_tokens' | 'max_completion_tokens';
}

const FINISH_REASONS: Record<string, StopReason> = {
  stop: 'end',
  length: 'max_tokens',
  content_filter: 'refusal',
};

/** The OpenAI SDK's errors in the retry table's terms (`errors.ts`). */
export const openaiErrors = sdkErrorMapping(OpenAI);

/** A provider backed by the OpenAI Chat Completions API, or any server that speaks it. */
export function createOpenAIProvider(opts: OpenAIProviderOptions): Provider {
  const client = new OpenAI({
    // The SDK refuses to start without a key, while local servers ignore it.
    apiKey: opts.apiKey || 'not-needed',
    // null, not undefined: config is parsed once at boot, so the SDK must not fall back to process.env.
    baseURL: opts.baseURL ?? null,
    organization: null,
    project: null,
    timeout: opts.timeoutMs,
    // Retries belong to the job queue, which honours Retry-After and counts attempts.
    maxRetries: 0,
  });

  const isOpenAI = !opts.baseURL || new URL(opts.baseURL).hostname === 'api.openai.com';
  const tokenLimitField = opts.tokenLimitField ?? (isOpenAI ? 'max_completion_tokens' : 'max_tokens');

  const bodyOf = (req: ProviderCall) => {
    const system = systemPromptFor(req);
    return {
      model: req.model,
      messages: [...(system !== undefined ? [{ role: 'system' as const, content: system }] : []), ...req.messages],
      [tokenLimitField]: req.params.maxTokens,
      ...(req.params.temperature !== undefined && { temperature: req.params.temperature }),
      ...(req.params.topP !== undefined && { top_p: req.params.topP }),
      ...(req.params.stop?.length && { stop: req.params.stop }),
    };
  };

  return {
    name: opts.name ?? 'openai',
    async stream(req: ProviderCall, onDelta: (text: string) => void): Promise<GenerationResult> {
      // The timeout bounds the whole stream, as it bounds a whole answer.
      return guardProviderCall(opts.timeoutMs, req.signal, openaiErrors, async (signal) => {
        const chunks = await client.chat.completions.create({ ...bodyOf(req), stream: true, stream_options: { include_usage: true } }, { signal });
        let text = '';
        let refusal = '';
        let finish: string | null = null;
        let model = req.model;
        let usage = { inputTokens: 0, outputTokens: 0 };
        for await (const chunk of chunks) {
          model = chunk.model || model;
          if (chunk.usage) usage = { inputTokens: chunk.usage.prompt_tokens, outputTokens: chunk.usage.completion_tokens };
          const choice = chunk.choices[0];
          if (!choice) continue;
          if (choice.delta.refusal) refusal += choice.delta.refusal;
          if (choice.delta.content) {
            text += choice.delta.content;
            onDelta(choice.delta.content);
          }
          finish = choice.finish_reason ?? finish;
        }
        return {
          text: refusal || text, ...usage, model,
          stopReason: refusal ? 'refusal' : ((finish ? FINISH_REASONS[finish] : undefined) ?? 'other'),
        };
      });
    },
    async generate(req: ProviderCall): Promise<GenerationResult> {
      const completion = await guardProviderCall(opts.timeoutMs, req.signal, openaiErrors, (signal) =>
        client.chat.completions.create(bodyOf(req), { signal }),
      );
      const choice = completion.choices[0];
      const refused = choice?.message.refusal != null;
      return {
        text: (refused ? choice?.message.refusal : choice?.message.content) ?? '',
        inputTokens: completion.usage?.prompt_tokens ?? 0,
        outputTokens: completion.usage?.completion_tokens ?? 0,
        stopReason: refused ? 'refusal' : ((choice && FINISH_REASONS[choice.finish_reason]) ?? 'other'),
        model: completion.model,
      };
    },
  };
}

