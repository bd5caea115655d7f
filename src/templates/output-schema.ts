import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { LRUCache } from 'lru-cache';
import { AppError } from '../errors/app-error.js';
import { canonicalJson } from '../generation/hash.js';
import { PatternError, re2RegExp, withPatternBudget } from './regexp.js';

/** Largest outputSchema accepted, as UTF-8 JSON. @defaultValue 64 KiB */
export const MAX_SCHEMA_BYTES = 64 * 1024;
/** Deepest nesting of objects and arrays in an outputSchema. @defaultValue 32 */
export const MAX_SCHEMA_DEPTH = 32;
/** Longest string the `url` format checks: its regex is quadratic in the length. @defaultValue 2048 */
export const MAX_URL_LENGTH = 2048;

// Compile time must stay linear in the schema: inlined $refs copy their target's code at every use
// (a 10 KB schema took 5 s, a 44 KB one ran out of memory), and the code optimiser is superlinear.
const ajv = new Ajv({ strict: false, allErrors: false, inlineRefs: false, code: { regExp: re2RegExp, optimize: false } });
addFormats.default(ajv);
const url = addFormats.default.get('url') as RegExp;
ajv.addFormat('url', (s: string) => s.length <= MAX_URL_LENGTH && url.test(s));
// ajv compares every pair of items (quadratic); canonical JSON in a Set is the same equality in linear time.
ajv.removeKeyword('uniqueItems');
ajv.addKeyword({
  keyword: 'uniqueItems', type: 'array', schemaType: 'boolean', errors: false,
  validate: (unique: boolean, items: unknown[]) => !unique || new Set(items.map(canonicalJson)).size === items.length,
});
const compiled = new LRUCache<string, ValidateFunction>({ max: 500 });

function depthOf(value: unknown, limit: number): number {
  if (value === null || typeof value !== 'object') return 0;
  if (limit <= 0) return 1;
  let max = 0;
  for (const v of Object.values(value)) max = Math.max(max, depthOf(v, limit - 1));
  return max + 1;
}

/** Compiles (once per distinct schema) a template's outputSchema; throws on an invalid schema. */
export function outputValidator(schema: Record<string, unknown>): ValidateFunction {
  const key = canonicalJson(schema);
  let fn = compiled.get(key);
  if (!fn) {
    try {
      fn = withPatternBudget(() => ajv.compile(schema));
    } finally {
      // The LRU above is the cache: without this, ajv keeps every schema forever and a second `$id` collides.
      ajv.removeSchema(schema);
    }
    compiled.set(key, fn);
  }
  return fn;
}

/**
 * Checks an outputSchema before it is stored: at most MAX_SCHEMA_BYTES and MAX_SCHEMA_DEPTH,
 * a valid JSON Schema, and patterns RE2 can run. Throws a 400 `invalid_template` naming the problem.
 */
export function checkOutputSchema(schema: Record<string, unknown> | null | undefined): void {
  if (!schema) return;
  const bytes = Buffer.byteLength(JSON.stringify(schema));
  if (bytes > MAX_SCHEMA_BYTES) {
    throw new AppError('invalid_template', `outputSchema is ${bytes} bytes of JSON; the limit is ${MAX_SCHEMA_BYTES}.`, { bytes, limit: MAX_SCHEMA_BYTES });
  }
  if (depthOf(schema, MAX_SCHEMA_DEPTH) > MAX_SCHEMA_DEPTH) {
    throw new AppError('invalid_template', `outputSchema nests deeper than ${MAX_SCHEMA_DEPTH} levels.`, { limit: MAX_SCHEMA_DEPTH });
  }
  try {
    outputValidator(schema);
  } catch (err) {
    if (err instanceof PatternError) throw new AppError('invalid_template', `outputSchema ${err.message}`, { pattern: err.pattern });
    throw new AppError('invalid_template', `outputSchema is not a valid JSON Schema: ${(err as Error).message}`);
  }
}

/** The text inside a ``` (or ```json) fence wrapping the whole answer, else the answer. No regex: the model writes it. */
function unfence(text: string): string {
  const t = text.trim();
  if (t.length < 6 || !t.startsWith('```') || !t.endsWith('```')) return text;
  return t.slice(3, -3).replace(/^json/i, '').trim();
}

/** Parses a model's answer as JSON (a surrounding ``` fence is tolerated) and checks it against the schema. */
export function parseOutput(text: string, schema: Record<string, unknown>): { ok: true; json: unknown } | { ok: false; reason: string } {
  let json: unknown;
  try {
    json = JSON.parse(unfence(text));
  } catch {
    return { ok: false, reason: 'the model did not answer with JSON' };
  }
  let validate: ValidateFunction;
  try {
    validate = outputValidator(schema);
  } catch (err) {
    // A template stored before today's checks may hold a schema that no longer compiles.
    return { ok: false, reason: `outputSchema cannot be compiled: ${(err as Error).message}` };
  }
  if (!validate(json)) return { ok: false, reason: `the JSON does not match outputSchema: ${ajv.errorsText(validate.errors)}` };
  return { ok: true, json };
}
