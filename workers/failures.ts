import { ProviderError } from '../src/providers/errors.js';

/**
 * Failures that are not HTTP errors of a provider (those are classified by
 * PROVIDER_ERROR_TABLE): what the model answered was unusable. Each is a failed
 * attempt and never a cached result; only invalid JSON is worth another try.
 */
export const OUTCOME_FAILURES = {
  output_invalid: { retryable: true, message: 'The model output does not match the template outputSchema' },
  output_schema_invalid: { retryable: false, message: 'The template outputSchema no longer compiles; fix the template' },
  output_validation_timeout: { retryable: false, message: 'Checking the model output against the template outputSchema took too long' },
  output_truncated: { retryable: false, message: 'The model stopped at maxTokens before finishing the JSON the template outputSchema asks for; raise the template maxTokens' },
  provider_refusal: { retryable: false, message: 'The model refused to answer' },
  provider_unavailable: { retryable: false, message: 'The job names a provider this worker has not configured' },
} as const;

export type OutcomeCode = keyof typeof OUTCOME_FAILURES;

/** A failed attempt, with the tokens it still cost when the provider did answer. */
export class AttemptFailed extends Error {
  override name = 'AttemptFailed';
  readonly retryable: boolean;
  constructor(
    readonly code: OutcomeCode,
    detail?: string,
    readonly usage?: { inputTokens: number; outputTokens: number },
  ) {
    super(detail ? `${OUTCOME_FAILURES[code].message}: ${detail}` : OUTCOME_FAILURES[code].message);
    this.retryable = OUTCOME_FAILURES[code].retryable;
  }
}

export interface Failure {
  code: string;
  message: string;
  retryable: boolean;
  retryAfterMs?: number;
  usage?: { inputTokens: number; outputTokens: number };
}

/** One classification for every error a job attempt can end with. */
export function classify(err: unknown): Failure {
  if (err instanceof AttemptFailed) return { code: err.code, message: err.message, retryable: err.retryable, ...(err.usage ? { usage: err.usage } : {}) };
  if (err instanceof ProviderError) {
    return { code: err.code, message: err.message, retryable: err.retryable, ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}) };
  }
  // Postgres or Redis trouble on our side: worth retrying once they are back.
  return { code: 'internal_error', message: err instanceof Error ? err.message : String(err), retryable: true };
}

/**
 * BullMQ backoffStrategy: exponential from `baseMs` with equal jitter, and never
 * sooner than the provider's Retry-After.
 */
export function backoffDelay(attemptsMade: number, baseMs: number, err?: Error, random = Math.random): number {
  const exp = baseMs * 2 ** Math.max(0, attemptsMade - 1);
  const jittered = exp / 2 + random() * (exp / 2);
  const retryAfter = err instanceof ProviderError ? (err.retryAfterMs ?? 0) : 0;
  return Math.round(Math.max(jittered, retryAfter));
}
