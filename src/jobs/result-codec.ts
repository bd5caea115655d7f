/** A code unit Postgres text and jsonb cannot hold: NUL, or half of a surrogate pair standing alone. */
const UNSTORABLE = /\0|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** True when Postgres can store `s` as text exactly (no NUL, no unpaired surrogate). */
export const storableText = (s: string): boolean => !UNSTORABLE.test(s);

/** True when every string (keys too) in a JSON value is storable; an explicit stack, never recursion on model output. */
export function storableJson(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (!storableText(v)) return false;
    } else if (Array.isArray(v)) stack.push(...v);
    else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (!storableText(k)) return false;
        stack.push(x);
      }
    }
  }
  return true;
}

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
  if (storableText(text) && (json === undefined || storableJson(json))) {
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
export const storableMessage = (s: string): string => (storableText(s) ? s : s.replace(new RegExp(UNSTORABLE.source, 'g'), '\ufffd'));
