import type { OutputBlock } from './message.js';
import type { ModelPrice } from './price.js';
import type { Usage } from './usage.js';

export type { Usage } from './usage.js';

/**
 * Why an answer ended: `stop` (the model finished, or hit a stop sequence), `length` (cut off at
 * `maxTokens`: still an answer, kept and cached like any other), `tool_calls` (it asks for tools),
 * `content_filter` (the provider withheld it) and `refusal` (the model declined; its text says
 * so). OpenAI's names; the Anthropic format says `end_turn`, `max_tokens`, `tool_use` and `refusal`.
 */
export const FINISH_REASONS = ['stop', 'length', 'tool_calls', 'content_filter', 'refusal'] as const;
export type FinishReason = (typeof FINISH_REASONS)[number];

/**
 * Why a provider stopped, as providers report it: `end` (finished), `max_tokens` (cut off),
 * `tool_use`, `refusal`, `content_filter`, `other` (anything else, read as `end`).
 */
export type StopReason = 'end' | 'max_tokens' | 'tool_use' | 'refusal' | 'content_filter' | 'other';

/** The finish reason of an answer the provider stopped for `stop`. */
export function finishReasonOf(stop: StopReason): FinishReason {
  switch (stop) {
    case 'max_tokens': return 'length';
    case 'tool_use': return 'tool_calls';
    case 'refusal': return 'refusal';
    case 'content_filter': return 'content_filter';
    default: return 'stop';
  }
}

/** What a provider returns for one call, provider-neutral. */
export interface GenerationResult extends Usage {
  /** The answer's text: its text blocks joined (a refusal's explanation for a refusal). */
  text: string;
  /** The answer's blocks when it is more than text (tool calls, reasoning); absent for text alone. */
  blocks?: OutputBlock[];
  stopReason: StopReason;
  /** The model that answered, as the provider reports it (may be a dated snapshot of the requested one). */
  model: string;
  /** Token log probabilities, as the provider sent them (OpenAI's `choices[0].logprobs`). */
  logprobs?: unknown;
  /** For an embedding: one vector per input, each as little-endian float32 bytes in base64. */
  embeddings?: string[];
  /** A model group's answer: the deployment that gave it, and its price (what the attempt cost). */
  servedBy?: { deployment: string; price?: ModelPrice };
}

/**
 * One piece of a streamed answer, for the block at `block` (its index in the answer's blocks):
 * text, the start of a tool call, a piece of its arguments, a piece of reasoning, or the
 * signature that closes the reasoning (to be passed back unchanged in later turns).
 */
export type StreamDelta =
  | { type: 'text'; block: number; text: string }
  | { type: 'tool_call'; block: number; id: string; name: string }
  | { type: 'tool_args'; block: number; args: string }
  | { type: 'thinking'; block: number; text: string }
  | { type: 'signature'; block: number; signature: string };

/** One step of a model group's call that moved on: which deployment, why, when. */
export interface RouteStep {
  deployment: string;
  /** `429`, `5xx`, `timeout`, `error`, `context` (its context window was too small), `cooling`, `no_capacity`. */
  outcome: string;
  /** The group it belonged to. */
  group: string;
  /** The provider's error code, when it answered with one. */
  code?: string;
  /** Epoch ms. */
  at: number;
}
