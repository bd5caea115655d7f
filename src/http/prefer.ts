import { AppError } from '../errors/app-error.js';

/** Longest a request may be held for its job, `?wait=` or `Prefer: wait=` (seconds). */
export const MAX_WAIT_SECONDS = 60;

/**
 * The `wait` preference of an RFC 7240 `Prefer` header (`Prefer: wait=10`, possibly among
 * others: `respond-async, wait=10`), capped at MAX_WAIT_SECONDS; undefined when absent.
 */
export function preferredWait(header: unknown): number | undefined {
  const m = /(?:^|[,;\s])wait\s*=\s*"?(\d{1,9})"?(?=$|[,;\s])/i.exec(String(header ?? ''));
  return m ? Math.min(Number(m[1]), MAX_WAIT_SECONDS) : undefined;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
/** Bounds of `Cancel-After`: at least a second, at most a day. */
export const CANCEL_AFTER_MS = { min: 1000, max: 86_400_000 } as const;

/**
 * A `Cancel-After` duration, as Replicate's: one or more `<integer><unit>` with unit
 * `ms`, `s`, `m` or `h` (`30s`, `5m`, `1h30m`), or bare seconds (`90`); in ms. A 400 otherwise.
 */
export function cancelAfterMs(header: string): number {
  const value = header.trim();
  let ms = 0;
  if (/^\d{1,9}$/.test(value)) ms = Number(value) * 1000;
  else if (/^(\d{1,9}(ms|s|m|h))+$/.test(value)) for (const [, n, u] of value.matchAll(/(\d+)(ms|s|m|h)/g)) ms += Number(n) * UNITS[u!]!;
  else throw new AppError('bad_request', 'Cancel-After must be a duration such as 30s, 5m or 1h30m.', { issues: [{ path: 'headers/cancel-after', message: 'is not a duration' }] });
  if (ms < CANCEL_AFTER_MS.min || ms > CANCEL_AFTER_MS.max) {
    throw new AppError('bad_request', 'Cancel-After must be between 1s and 24h.', { issues: [{ path: 'headers/cancel-after', message: 'is out of range' }] });
  }
  return ms;
}
