import type { CacheControl, Message, TextBlock } from './message.js';

/** `maxTokens` of a request that names none (a template without one, an OpenAI-format call without `max_tokens`). */
export const DEFAULT_MAX_TOKENS = 1024;

/**
 * How much the model may reason before answering: an effort (OpenAI's `reasoning_effort`, Anthropic's
 * `output_config.effort`) or a token budget (Anthropic's `thinking.budget_tokens`).
 */
export interface Reasoning {
  effort?: 'none' | 'minimal' | 'low' | 'medium' | 'high' | 'xhigh' | 'max';
  budgetTokens?: number;
}

/** Sampling parameters; an absent one is the provider's own default. */
export interface GenerationParams {
  /** Upper bound on output tokens; hitting it cuts the answer off (finish reason `length`). */
  maxTokens: number;
  temperature?: number;
  topP?: number;
  /** Anthropic's `top_k`. */
  topK?: number;
  /** Sequences that end the answer. */
  stop?: string[];
  /** OpenAI's `seed`. */
  seed?: number;
  reasoning?: Reasoning;
  /** OpenAI's `logprobs` and `top_logprobs`: the answer carries them. */
  logprobs?: boolean;
  topLogprobs?: number;
}

/** Ask for JSON conforming to `schema`; the worker validates the answer against it. */
export interface ResponseFormat {
  type: 'json_schema';
  schema: Record<string, unknown>;
}

/** A function the model may call: its input is described by a JSON Schema. */
export interface ToolDefinition {
  name: string;
  description?: string;
  parameters: Record<string, unknown>;
  /** OpenAI's strict function calling. */
  strict?: boolean;
  cacheControl?: CacheControl;
}

/** Whether the model must call a tool: `auto` (it decides), `none`, `required` (any one), or the named one. */
export type ToolChoice = 'auto' | 'none' | 'required' | { name: string };

/** An embedding of each input, instead of an answer (`POST /v1/embeddings`). */
export interface EmbedTask {
  inputs: string[];
  dimensions?: number;
}

/**
 * One generation, provider-neutral: what is sent to the provider and what its input hash is
 * computed from. `provider` is a name of the provider registry (checked wherever it comes in).
 * Every optional field is left out when unused, so requests without it hash as they always did.
 */
export interface GenerationRequest {
  provider: string;
  model: string;
  /** Text; blocks only when one carries a cache breakpoint. */
  system?: string | TextBlock[];
  messages: Message[];
  params: GenerationParams;
  responseFormat?: ResponseFormat;
  tools?: ToolDefinition[];
  toolChoice?: ToolChoice;
  /** false: at most one tool call per answer. */
  parallelToolCalls?: boolean;
  /** Set for an embedding: `messages` is then empty and `inputs` are embedded. */
  embed?: EmbedTask;
}

/** The text of a system prompt, whichever form it has. */
export const systemText = (system: GenerationRequest['system']): string | undefined =>
  system === undefined ? undefined : typeof system === 'string' ? system : system.map((b) => b.text).join('\n\n');
