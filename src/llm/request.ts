import type { Message } from './message.js';

/** `maxTokens` of a request that names none (a template without one, an OpenAI-format call without `max_tokens`). */
export const DEFAULT_MAX_TOKENS = 1024;

/** Sampling parameters; an absent one is the provider's own default. */
export interface GenerationParams {
  /** Upper bound on output tokens; hitting it cuts the answer off (finish reason `length`). */
  maxTokens: number;
  temperature?: number;
  topP?: number;
  /** Sequences that end the answer. */
  stop?: string[];
}

/** Ask for JSON conforming to `schema`; the worker validates the answer against it. */
export interface ResponseFormat {
  type: 'json_schema';
  schema: Record<string, unknown>;
}

/**
 * One generation, provider-neutral: what is sent to the provider and what its input hash is
 * computed from. `provider` is a name of the provider registry (checked wherever it comes in).
 */
export interface GenerationRequest {
  provider: string;
  model: string;
  system?: string;
  messages: Message[];
  params: GenerationParams;
  responseFormat?: ResponseFormat;
}
