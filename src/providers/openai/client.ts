import OpenAI from 'openai';
import type { GenerationResult, StreamDelta, Usage } from '../../llm/result.js';
import { guardProviderCall } from '../errors.js';
import { openaiErrors } from './errors.js';
import type { Provider, ProviderCall } from '../types.js';
import { embedWith } from './embed.js';
import { StreamedChat } from './streamed.js';
import { blocksOfChoice, chatBody, stopReasonOf, usageOfChat } from './wire.js';

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
    const { signal: _signal, ...call } = req;
    return chatBody(call, tokenLimitField) as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming;
  };

  return {
    name: opts.name ?? 'openai',
    async stream(req: ProviderCall, onDelta: (delta: StreamDelta) => void): Promise<GenerationResult> {
      // The timeout bounds the whole stream, as it bounds a whole answer.
      return guardProviderCall(opts.timeoutMs, req.signal, openaiErrors, async (signal) => {
        const chunks = await client.chat.completions.create({ ...bodyOf(req), stream: true, stream_options: { include_usage: true } }, { signal });
        const answer = new StreamedChat(onDelta);
        let model = req.model;
        let usage: Usage = { inputTokens: 0, outputTokens: 0 };
        for await (const chunk of chunks) {
          model = chunk.model || model;
          if (chunk.usage) usage = usageOfChat(chunk.usage);
          const choice = chunk.choices[0];
          if (choice) answer.add(choice);
        }
        return { ...answer.result(), ...usage, model };
      });
    },
    async generate(req: ProviderCall): Promise<GenerationResult> {
      const completion = await guardProviderCall(opts.timeoutMs, req.signal, openaiErrors, (signal) =>
        client.chat.completions.create(bodyOf(req), { signal }),
      );
      const choice = completion.choices[0];
      const refusal = choice?.message.refusal;
      const text = refusal ?? choice?.message.content ?? '';
      const calls = choice?.message.tool_calls?.flatMap((c) => (c.type === 'function' ? [c] : []));
      const blocks = refusal == null ? blocksOfChoice(text, calls) : undefined;
      return {
        text, ...(blocks ? { blocks } : {}),
        ...usageOfChat(completion.usage),
        stopReason: refusal != null ? 'refusal' : stopReasonOf(choice?.finish_reason),
        model: completion.model,
        ...(choice?.logprobs ? { logprobs: choice.logprobs } : {}),
      };
    },
    async embed(req: ProviderCall): Promise<GenerationResult> {
      return embedWith(client, req, opts.timeoutMs);
    },
  };
}
