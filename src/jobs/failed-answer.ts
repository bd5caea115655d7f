import { AppError } from '../errors/app-error.js';

/**
 * Whether sending the same request again can get an answer, by the error code a generation
 * ended with. Every SDK retries a 5xx two or more times (LangChain six), and each retry of a
 * request whose slot is open again is a new paid generation: so a failure a retry cannot fix
 * is answered 400 `generation_unrecoverable` (no SDK retries a 400), and only one a retry can
 * fix (upstream trouble, or ours) 502 `generation_failed`. The table of dead-job codes (docs/errors.md)
 * is this one; a test checks that every code a worker can end a job with is listed.
 */
export const RETRY_CAN_FIX = {
  // The provider or our side was in trouble: the same request may succeed later.
  provider_rate_limited: true,
  provider_server_error: true,
  provider_overloaded: true,
  provider_timeout: true,
  provider_unreachable: true,
  provider_conflict: true,
  provider_aborted: true,
  worker_lost: true,
  job_lost: true,
  internal_error: true,
  // The answer, the request or the setup is the problem: a retry is paid (where the provider
  // answered) and fails the same way.
  output_invalid: false,
  output_schema_invalid: false,
  output_validation_timeout: false,
  output_truncated: false,
  provider_refusal: false,
  provider_bad_request: false,
  provider_auth_failed: false,
  provider_forbidden: false,
  provider_not_found: false,
  provider_context_length: false,
  provider_error: false,
  provider_unavailable: false,
  canceled: false,
} as const satisfies Record<string, boolean>;

/** The error a caller that waited for a generation gets when it ended without an answer. */
export function failedGenerationError(
  jobId: string,
  error: { code?: string; message?: string } | undefined,
  details: Record<string, unknown>,
  headers: Record<string, string> = {},
): AppError {
  const code = error?.code ?? 'internal_error';
  const text = `Generation ${jobId} failed: ${code}: ${error?.message ?? ''}`.trim();
  // The retry table's codes; a budget that refused the retry of an attempt is a 402 like at admission.
  if (code === 'budget_exceeded') return new AppError('budget_exceeded', text, details, headers);
  const retry = (RETRY_CAN_FIX as Record<string, boolean>)[code] ?? false;
  // Both official SDKs honour x-should-retry over their own status rules.
  const all = { ...headers, 'x-should-retry': String(retry) };
  return retry ? new AppError('generation_failed', text, details, all) : new AppError('generation_unrecoverable', text, details, all);
}
