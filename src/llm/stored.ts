import type { Message, TextBlock } from './message.js';
import { systemText, type EmbedTask, type GenerationRequest, type Reasoning, type ToolChoice, type ToolDefinition } from './request.js';

/**
 * The parts of a request beyond text chat, kept together (the `request_options` column): absent
 * for a request that has none of them.
 */
export interface RequestOptions {
  /** The system prompt's blocks, when one carries a cache breakpoint (`system` holds their text). */
  system?: TextBlock[];
  tools?: ToolDefinition[];
  toolChoice?: ToolChoice;
  parallelToolCalls?: boolean;
  topK?: number;
  seed?: number;
  reasoning?: Reasoning;
  logprobs?: boolean;
  topLogprobs?: number;
  embed?: EmbedTask;
}

/**
 * A request flattened as a queued job and a `generations` row hold it (`requestOf` puts it back
 * together). `prompt` alone stands on rows and jobs older than `messages`.
 */
export interface StoredRequest {
  provider: string;
  model: string;
  system: string | null;
  messages?: Message[] | null;
  prompt?: string;
  maxTokens: number;
  temperature: number | null;
  topP?: number | null;
  stop?: string[] | null;
  outputSchema: Record<string, unknown> | null;
  options?: RequestOptions | null;
}

/** The options of a request, or undefined when it has none. */
function optionsOf(r: GenerationRequest): RequestOptions | undefined {
  const p = r.params;
  const o: RequestOptions = {
    ...(typeof r.system === 'object' ? { system: r.system } : {}),
    ...(r.tools ? { tools: r.tools } : {}),
    ...(r.toolChoice !== undefined ? { toolChoice: r.toolChoice } : {}),
    ...(r.parallelToolCalls !== undefined ? { parallelToolCalls: r.parallelToolCalls } : {}),
    ...(p.topK !== undefined ? { topK: p.topK } : {}),
    ...(p.seed !== undefined ? { seed: p.seed } : {}),
    ...(p.reasoning ? { reasoning: p.reasoning } : {}),
    ...(p.logprobs !== undefined ? { logprobs: p.logprobs } : {}),
    ...(p.topLogprobs !== undefined ? { topLogprobs: p.topLogprobs } : {}),
    ...(r.embed ? { embed: r.embed } : {}),
  };
  return Object.keys(o).length ? o : undefined;
}

/** A request as job data and the row store it. */
export function storedRequest(r: GenerationRequest) {
  const options = optionsOf(r);
  return {
    provider: r.provider,
    model: r.model,
    system: systemText(r.system) ?? null,
    messages: r.messages,
    maxTokens: r.params.maxTokens,
    temperature: r.params.temperature ?? null,
    ...(r.params.topP !== undefined ? { topP: r.params.topP } : {}),
    ...(r.params.stop ? { stop: r.params.stop } : {}),
    outputSchema: r.responseFormat?.schema ?? null,
    ...(options ? { options } : {}),
  } satisfies StoredRequest;
}

/** The messages a stored request was admitted with: the one fallback for rows and jobs older than `messages`, whose prompt was the one user message. */
export const messagesOf = (s: Pick<StoredRequest, 'messages' | 'prompt'>): Message[] => s.messages ?? [{ role: 'user', content: s.prompt ?? '' }];

/** The request a job or row was admitted with. */
export function requestOf(s: StoredRequest): GenerationRequest {
  const o = s.options ?? {};
  const system = o.system ?? s.system ?? undefined;
  return {
    provider: s.provider,
    model: s.model,
    ...(system ? { system } : {}),
    messages: o.embed ? (s.messages ?? []) : messagesOf(s),
    params: {
      maxTokens: s.maxTokens,
      ...(s.temperature != null ? { temperature: s.temperature } : {}),
      ...(s.topP != null ? { topP: s.topP } : {}),
      ...(o.topK !== undefined ? { topK: o.topK } : {}),
      ...(s.stop?.length ? { stop: s.stop } : {}),
      ...(o.seed !== undefined ? { seed: o.seed } : {}),
      ...(o.reasoning ? { reasoning: o.reasoning } : {}),
      ...(o.logprobs !== undefined ? { logprobs: o.logprobs } : {}),
      ...(o.topLogprobs !== undefined ? { topLogprobs: o.topLogprobs } : {}),
    },
    ...(s.outputSchema ? { responseFormat: { type: 'json_schema', schema: s.outputSchema } } : {}),
    ...(o.tools ? { tools: o.tools } : {}),
    ...(o.toolChoice !== undefined ? { toolChoice: o.toolChoice } : {}),
    ...(o.parallelToolCalls !== undefined ? { parallelToolCalls: o.parallelToolCalls } : {}),
    ...(o.embed ? { embed: o.embed } : {}),
  };
}
