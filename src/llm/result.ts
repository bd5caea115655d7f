/**
 * Why an answer ended: `stop` (the model finished, or hit a stop sequence), `length` (cut off at
 * `maxTokens`: still an answer, kept and cached like any other). OpenAI's names; the Anthropic
 * format says `end_turn` and `max_tokens`.
 */
export const FINISH_REASONS = ['stop', 'length'] as const;
export type FinishReason = (typeof FINISH_REASONS)[number];

/**
 * Why a provider stopped, as providers report it: `end` (finished), `max_tokens` (cut off),
 * `refusal` (the model declined: never a completed answer), `other` (anything else, read as `end`).
 */
export type StopReason = 'end' | 'max_tokens' | 'refusal' | 'other';

/** The finish reason of an answer the provider stopped for `stop` (a refusal is no answer). */
export const finishReasonOf = (stop: Exclude<StopReason, 'refusal'>): FinishReason => (stop === 'max_tokens' ? 'length' : 'stop');

/** Tokens one attempt used, as the provider reported them. */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

/** What a provider returns for one call, provider-neutral. */
export interface GenerationResult extends Usage {
  text: string;
  stopReason: StopReason;
  /** The model that answered, as the provider reports it (may be a dated snapshot of the requested one). */
  model: string;
}
