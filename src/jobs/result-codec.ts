import type { ResultExtra } from '../db/schema.js';
import type { OutputBlock } from '../llm/message.js';
import { findFlaw } from '../http/input-guard.js';

/** True when Postgres can store `s` as text exactly (no NUL, no unpaired surrogate). */
const storableText = (s: string): boolean => s.indexOf('\u0000') === -1 && s.isWellFormed();

/** A model's answer as the `generations` columns hold it. */
export interface StoredResult {
  text: string;
  /** JSON text for the jsonb column, or null. */
  json: string | null;
  /** JSON text of `result_extra`, or null. */
  extra: string | null;
  encoding: 'json' | null;
}

/**
 * Model output is stored losslessly whatever it holds: as it is when Postgres
 * can store it, otherwise (`encoding: 'json'`) the text as a JSON string
 * literal and each JSON value (the answer's JSON, its extra parts) as
 * `{json: <its JSON text>}`, where NUL and unpaired surrogates are plain-ASCII escapes.
 */
export function encodeResult(text: string, json: unknown, extra?: ResultExtra): StoredResult {
  if (storableText(text) && (json === undefined || !findFlaw(json)) && (extra === undefined || !findFlaw(extra))) {
    return { text, json: json === undefined ? null : JSON.stringify(json), extra: extra === undefined ? null : JSON.stringify(extra), encoding: null };
  }
  const wrapped = (v: unknown) => (v === undefined ? null : JSON.stringify(wrap(v)));
  return { text: JSON.stringify(text), json: wrapped(json), extra: wrapped(extra), encoding: 'json' };
}

/** The answer back from its columns. */
export function decodeResult(row: { resultText: string | null; resultJson: unknown; resultExtra?: unknown; resultEncoding: 'json' | null }): {
  text: string; json?: unknown; extra?: ResultExtra;
} {
  const wrapped = row.resultEncoding === 'json';
  const value = (v: unknown) => (wrapped ? unwrap(v) : v);
  return {
    text: wrapped ? (JSON.parse(row.resultText ?? '""') as string) : (row.resultText ?? ''),
    ...(row.resultJson !== null ? { json: value(row.resultJson) } : {}),
    ...(row.resultExtra != null ? { extra: value(row.resultExtra) as ResultExtra } : {}),
  };
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

/** The tokens a row's attempts used, with the prompt-cache and reasoning parts when there are any. */
export function usageOf(row: { inputTokens: number; outputTokens: number; cacheReadTokens?: number; cacheWriteTokens?: number; reasoningTokens?: number }) {
  return {
    inputTokens: row.inputTokens, outputTokens: row.outputTokens, totalTokens: row.inputTokens + row.outputTokens,
    ...(row.cacheReadTokens ? { cacheReadTokens: row.cacheReadTokens } : {}),
    ...(row.cacheWriteTokens ? { cacheWriteTokens: row.cacheWriteTokens } : {}),
    ...(row.reasoningTokens ? { reasoningTokens: row.reasoningTokens } : {}),
  };
}

/** An answer as the API shows it: text, JSON, and the blocks and logprobs when it has them (never an embedding's vectors). */
export type PublicResult = { text: string; json?: unknown; blocks?: OutputBlock[]; logprobs?: unknown };

export function publicResult(r: { text: string; json?: unknown; extra?: ResultExtra }): PublicResult {
  return {
    text: r.text,
    ...(r.json !== undefined ? { json: r.json } : {}),
    ...(r.extra?.blocks ? { blocks: r.extra.blocks } : {}),
    ...(r.extra?.logprobs !== undefined ? { logprobs: r.extra.logprobs } : {}),
  };
}
