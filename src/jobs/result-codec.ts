import { findFlaw } from '../http/input-guard.js';

/** True when Postgres can store `s` as text exactly (no NUL, no unpaired surrogate). */
const storableText = (s: string): boolean => s.indexOf('\u0000') === -1 && s.isWellFormed();

/** A model's answer as the `generations` columns hold it. */
export interface StoredResult {
  text: string;
  /** JSON text for the jsonb column, or null. */
  json: string | null;
  encoding: 'json' | null;
}

/**
 * Model output is stored losslessly whatever it holds: as it is when Postgres
 * can store it, otherwise (`encoding: 'json'`) the text as a JSON string
 * literal and the JSON value as `{json: <its JSON text>}`, where NUL and
 * unpaired surrogates are plain-ASCII escapes.
 */
export function encodeResult(text: string, json: unknown): StoredResult {
  if (storableText(text) && (json === undefined || !findFlaw(json))) {
    return { text, json: json === undefined ? null : JSON.stringify(json), encoding: null };
  }
  return { text: JSON.stringify(text), json: json === undefined ? null : JSON.stringify(wrap(json)), encoding: 'json' };
}

/** The answer back from its columns. */
export function decodeResult(row: { resultText: string | null; resultJson: unknown; resultEncoding: 'json' | null }): { text: string; json?: unknown } {
  if (row.resultEncoding === 'json') {
    return { text: JSON.parse(row.resultText ?? '""') as string, ...(row.resultJson !== null ? { json: unwrap(row.resultJson) } : {}) };
  }
  return { text: row.resultText ?? '', ...(row.resultJson !== null ? { json: row.resultJson } : {}) };
}

/**
 * A value's JSON text inside an object, for jsonb: escapes stay escapes. An
 * object and not a bare jsonb string, because drizzle's jsonb column parses a
 * string it reads once more whenever it looks like JSON.
 */
const wrap = (value: unknown) => ({ json: JSON.stringify(value) });
const unwrap = (stored: unknown): unknown => JSON.parse((stored as { json: string }).json);

/** A JSON value for a jsonb column, losslessly: as it is, or (`encoding: 'json'`) wrapped as its JSON text. */
export function encodeJson(value: unknown): { value: unknown; encoding: 'json' | null } {
  return findFlaw(value) ? { value: wrap(value), encoding: 'json' } : { value, encoding: null };
}

/** The value `encodeJson` stored. */
export const decodeJson = (stored: unknown, encoding: 'json' | null): unknown => (encoding === 'json' ? unwrap(stored) : stored);

/** Error messages are for people: whatever Postgres cannot store becomes U+FFFD. */
export const storableMessage = (s: string): string => s.toWellFormed().replaceAll('\u0000', '\ufffd');
