import type { CodeOptions } from 'ajv';
import { RE2JS } from 're2js';

/**
 * Longest `pattern` (or `patternProperties` key) an outputSchema may hold, in characters.
 * RE2's time is linear in the input but grows with the pattern's size, so both are bounded.
 * @defaultValue 1000
 */
export const MAX_PATTERN_LENGTH = 1000;

/** Most pattern characters one outputSchema may hold in all, counted at each place ajv tests one. @defaultValue 4000 */
export const MAX_PATTERN_TOTAL = 4000;

/** A user pattern RE2 cannot run (backreference, lookaround, …) or that is over the limits. */
export class PatternError extends Error {
  override name = 'PatternError';
  constructor(readonly pattern: string, reason: string) {
    super(`pattern ${JSON.stringify(pattern.length > 80 ? `${pattern.slice(0, 80)}…` : pattern)} ${reason}`);
  }
}

let spent = 0;

/** Runs one schema compilation with a fresh budget of `MAX_PATTERN_TOTAL` pattern characters. */
export function withPatternBudget<T>(compile: () => T): T {
  spent = 0;
  try {
    return compile();
  } finally {
    spent = 0;
  }
}

/**
 * ajv's regex engine (`code.regExp`) for user schemas: RE2, whose matching time is linear
 * in the input, in place of the backtracking RegExp. JSON Schema's `pattern` is an
 * unanchored search, so `test` finds rather than matches whole. JavaScript-only syntax
 * (`\u00e9`, `(?<name>)`) is translated; what RE2 cannot express throws a PatternError.
 */
export const re2RegExp: NonNullable<CodeOptions['regExp']> = Object.assign(
  (pattern: string) => {
    if (pattern.length > MAX_PATTERN_LENGTH) throw new PatternError(pattern, `is longer than ${MAX_PATTERN_LENGTH} characters`);
    spent += pattern.length;
    if (spent > MAX_PATTERN_TOTAL) throw new PatternError(pattern, `takes the schema's patterns past ${MAX_PATTERN_TOTAL} characters in all`);
    let re: RE2JS;
    try {
      re = RE2JS.compile(RE2JS.translateRegExp(pattern));
    } catch (err) {
      throw new PatternError(pattern, `is not supported (RE2 syntax: no backreferences or lookaround): ${(err as Error).message}`);
    }
    // ajv keys compiled patterns by toString(): it must differ per pattern.
    return { test: (s: string) => re.test(s), toString: () => `re2:${pattern}` };
  },
  { code: 're2RegExp' },
);
