/** How one kind of provider failure is reported and whether the job queue should retry it. */
export interface ProviderErrorRule {
  readonly code: string;
  readonly retryable: boolean;
}

/**
 * The one retry table: HTTP statuses and error kinds → error code and retryability.
 * `4xx` / `5xx` cover statuses not listed. Retryable means "the same request may succeed
 * later"; everything else fails the job at once.
 */
export const PROVIDER_ERROR_TABLE = {
  400: { code: 'provider_bad_request', retryable: false },
  401: { code: 'provider_auth_failed', retryable: false },
  403: { code: 'provider_forbidden', retryable: false },
  404: { code: 'provider_not_found', retryable: false },
  408: { code: 'provider_timeout', retryable: true },
  409: { code: 'provider_conflict', retryable: true },
  422: { code: 'provider_bad_request', retryable: false },
  429: { code: 'provider_rate_limited', retryable: true },
  500: { code: 'provider_server_error', retryable: true },
  502: { code: 'provider_server_error', retryable: true },
  503: { code: 'provider_server_error', retryable: true },
  504: { code: 'provider_timeout', retryable: true },
  529: { code: 'provider_overloaded', retryable: true },
  '4xx': { code: 'provider_bad_request', retryable: false },
  '5xx': { code: 'provider_server_error', retryable: true },
  timeout: { code: 'provider_timeout', retryable: true },
  connection: { code: 'provider_unreachable', retryable: true },
  // An abort comes from our side (shutdown, job cancelled); the request itself was fine.
  aborted: { code: 'provider_aborted', retryable: true },
  // Unclassifiable means a bug or misconfiguration, which retrying will not fix.
  unknown: { code: 'provider_error', retryable: false },
  // The input does not fit the model's context window (a 400 that says so): only a model with a larger one can answer.
  context: { code: 'provider_context_length', retryable: false },
} as const satisfies Record<string, ProviderErrorRule>;

/** Every code a {@link ProviderError} can carry. */
export type ProviderErrorCode = (typeof PROVIDER_ERROR_TABLE)[keyof typeof PROVIDER_ERROR_TABLE]['code'];

/** Options of {@link ProviderError} beyond its code and message. */
export interface ProviderErrorOptions {
  /** HTTP status of the upstream response, when there was one. */
  status?: number;
  /** Whether the job queue should retry. */
  retryable: boolean;
  /** How long the provider asked us to wait (from `retry-after-ms` / `retry-after`). */
  retryAfterMs?: number;
  cause?: unknown;
}

/** A failed provider call, classified by {@link PROVIDER_ERROR_TABLE}. The only error providers throw. */
export class ProviderError extends Error {
  override readonly name = 'ProviderError';
  readonly code: ProviderErrorCode;
  readonly status?: number;
  readonly retryable: boolean;
  readonly retryAfterMs?: number;

  constructor(code: ProviderErrorCode, message: string, opts: ProviderErrorOptions) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.retryable = opts.retryable;
    if (opts.status !== undefined) this.status = opts.status;
    if (opts.retryAfterMs !== undefined) this.retryAfterMs = opts.retryAfterMs;
  }
}

/** The table rule for an HTTP status. */
export function ruleForStatus(status: number): ProviderErrorRule {
  const table: Record<string, ProviderErrorRule> = PROVIDER_ERROR_TABLE;
  return table[status] ?? (status >= 500 ? PROVIDER_ERROR_TABLE['5xx'] : PROVIDER_ERROR_TABLE['4xx']);
}

/**
 * The wait a response asks for, in ms: `retry-after-ms` (the SDKs' extension) first, then
 * `retry-after` as seconds or an HTTP date. Undefined when absent or unparseable.
 */
export function parseRetryAfter(headers: Headers | undefined, now = Date.now()): number | undefined {
  const ms = Number.parseFloat(headers?.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms) && ms >= 0) return Math.ceil(ms);
  const value = headers?.get('retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.ceil(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** What a provider's SDK error is in the table's terms: an HTTP status (with its response headers), or a kind of failure. */
export type ProviderErrorKind = { status: number; headers?: Headers } | 'timeout' | 'connection' | 'aborted';

/**
 * How one provider reads its SDK's errors, declared beside it (`anthropic.ts`, `openai.ts`):
 * which are timeouts, lost connections, aborts, or HTTP statuses. What each then means (code,
 * retryable) stays in the one table above.
 */
export interface ProviderErrorMapping {
  /** The kind of `err`, or undefined when it is none of this SDK's errors. */
  kindOf(err: unknown): ProviderErrorKind | undefined;
}

type ErrorClass = abstract new (...args: never[]) => Error;

/** The error classes both official SDKs export (generated alike: Stainless). */
export interface SdkErrorClasses {
  APIUserAbortError: ErrorClass;
  APIConnectionTimeoutError: ErrorClass;
  APIConnectionError: ErrorClass;
  APIError: ErrorClass;
}

/** The mapping of an SDK whose errors are these classes: aborts, timeouts, connections, then statuses. */
export function sdkErrorMapping(sdk: SdkErrorClasses): ProviderErrorMapping {
  return {
    kindOf(err) {
      if (err instanceof sdk.APIUserAbortError) return 'aborted';
      if (err instanceof sdk.APIConnectionTimeoutError) return 'timeout';
      if (err instanceof sdk.APIConnectionError) return 'connection';
      if (err instanceof sdk.APIError) {
        const { status, headers } = err as Error & { status?: unknown; headers?: Headers };
        if (typeof status === 'number') return { status, headers };
      }
      return undefined;
    },
  };
}

// A socket that dies while the body is read surfaces as undici's bare TypeError('terminated'), not an SDK error.
const SOCKET_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET']);

/** What any provider can throw besides its SDK's errors: an abort of our own, or a socket that died. */
function commonKindOf(err: unknown): ProviderErrorKind | undefined {
  if (!(err instanceof Error)) return undefined;
  if (err.name === 'AbortError') return 'aborted';
  if (err.message === 'terminated' || SOCKET_CODES.has(String((err.cause as { code?: unknown } | undefined)?.code))) return 'connection';
  return undefined;
}

function fromRule(rule: ProviderErrorRule, message: string, cause: unknown, status?: number, headers?: Headers) {
  const opts: ProviderErrorOptions = { retryable: rule.retryable, cause };
  if (status !== undefined) opts.status = status;
  const retryAfterMs = parseRetryAfter(headers);
  if (retryAfterMs !== undefined) opts.retryAfterMs = retryAfterMs;
  // The upstream's explicit verdict beats our table, as it does in both SDKs' own retry logic.
  const verdict = headers?.get('x-should-retry');
  if (verdict === 'true' || verdict === 'false') opts.retryable = verdict === 'true';
  return new ProviderError(rule.code as ProviderErrorCode, message, opts);
}

/** How OpenAI, Anthropic and the servers that copy them say an input is longer than the model's context window. */
const CONTEXT_LENGTH = /context_length_exceeded|context length|context window|prompt is too long|too many tokens|maximum context/i;

/**
 * Converts anything a provider throws into a {@link ProviderError} (returned as is if it already
 * is one), its SDK's errors read by the provider's `mapping`.
 */
export function toProviderError(err: unknown, mapping?: ProviderErrorMapping): ProviderError {
  if (err instanceof ProviderError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const kind = mapping?.kindOf(err) ?? commonKindOf(err);
  if (kind === undefined) return fromRule(PROVIDER_ERROR_TABLE.unknown, message, err);
  if (typeof kind === 'string') return fromRule(PROVIDER_ERROR_TABLE[kind], message, err);
  const rule = kind.status === 400 && CONTEXT_LENGTH.test(message) ? PROVIDER_ERROR_TABLE.context : ruleForStatus(kind.status);
  return fromRule(rule, message, err, kind.status, kind.headers);
}

/**
 * Runs one SDK call under a deadline that covers the whole response, and converts whatever
 * it throws. The SDKs' own `timeout` stops once headers arrive, so a body that stalls
 * after them would otherwise hang the job.
 */
export async function guardProviderCall<T>(
  timeoutMs: number,
  signal: AbortSignal | undefined,
  mapping: ProviderErrorMapping,
  call: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  // A controller and a cleared timer rather than AbortSignal.timeout/any: a long-lived
  // caller signal (a worker's shutdown signal) must not collect a listener per call.
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => ((timedOut = true), controller.abort()), timeoutMs);
  const onAbort = () => controller.abort(signal?.reason);
  if (signal?.aborted) onAbort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await call(controller.signal);
  } catch (err) {
    if (timedOut) throw fromRule(PROVIDER_ERROR_TABLE.timeout, `no complete response within ${timeoutMs} ms`, err);
    throw toProviderError(err, mapping);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}
