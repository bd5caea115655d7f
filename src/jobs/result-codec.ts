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
 * literal and the JSON value as a jsonb string holding its JSON text, where NUL
 * and unpaired surrogates are plain-ASCII escapes.
 */
export function encodeResult(text: string, json: unknown): StoredResult {
  if (storableText(text) && (json === undefined || !findFlaw(json))) {
    return { text, json: json === undefined ? null : JSON.stringify(json), encoding: null };
  }
  return { text: JSON.stringify(text), json: json === undefined ? null : JSON.stringify(JSON.stringify(json)), encoding: 'json' };
}

/** The answer back from its columns. */
export function decodeResult(row: { resultText: string | null; resultJson: unknown; resultEncoding: 'json' | null }): { text: string; json?: unknown } {
  if (row.resultEncoding === 'json') {
    return { text: JSON.parse(row.resultText ?? '""') as string, ...(row.resultJson !== null ? { json: JSON.parse(row.resultJson as string) } : {}) };
  }
  return { text: row.resultText ?? '', ...(row.resultJson !== null ? { json: row.resultJson } : {}) };
}

/** Error messages are for people: whatever Postgres cannot store becomes U+FFFD. */
export const storableMessage = (s: string): string => s.toWellFormed().replaceAll('\u0000', '\ufffd');
