import { Ajv, type Options, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import draft06 from 'ajv/dist/refs/json-schema-draft-06.json' with { type: 'json' };
import addFormats from 'ajv-formats';
import { LRUCache } from 'lru-cache';
import { AppError } from '../errors/app-error.js';
import type { ErrorCode } from '../errors/catalogue.js';
import { canonicalJson } from '../llm/hash.js';
import { PatternError, re2RegExp, withPatternBudget } from './regexp.js';

/** Largest outputSchema accepted, as UTF-8 JSON. @defaultValue 64 KiB */
export const MAX_SCHEMA_BYTES = 64 * 1024;
/** Deepest nesting of objects and arrays in an outputSchema. @defaultValue 32 */
export const MAX_SCHEMA_DEPTH = 32;
/** Longest string the `url` format checks: its regex is quadratic in the length. @defaultValue 2048 */
export const MAX_URL_LENGTH = 2048;
/**
 * Most subschema checks one value of the answer may cost (see {@link schemaCost}): `$ref`s,
 * `allOf`, `anyOf`, `oneOf`, `not` and `if` multiply what applies to one value, so a small
 * schema can ask for exponential work per value. @defaultValue 1000
 */
export const MAX_SCHEMA_COST = 1000;

/** The JSON Schema dialect a schema without `$schema` is read in. */
export const DEFAULT_DIALECT = 'draft-07';

// Compile time must stay linear in the schema: inlined $refs copy their target's code at every use
// (a 10 KB schema took 5 s, a 44 KB one ran out of memory), and the code optimiser is superlinear.
const OPTIONS: Options = { strict: false, allErrors: false, inlineRefs: false, code: { regExp: re2RegExp, optimize: false } };

function configure<T extends Ajv>(ajv: T): T {
  addFormats.default(ajv);
  const url = addFormats.default.get('url') as RegExp;
  ajv.addFormat('url', (s: string) => s.length <= MAX_URL_LENGTH && url.test(s));
  // ajv compares every pair of items (quadratic); canonical JSON in a Set is the same equality in linear time.
  ajv.removeKeyword('uniqueItems');
  ajv.addKeyword({
    keyword: 'uniqueItems', type: 'array', schemaType: 'boolean', errors: false,
    validate: (unique: boolean, items: unknown[]) => !unique || new Set(items.map(canonicalJson)).size === items.length,
  });
  return ajv;
}

const draft07 = configure(new Ajv(OPTIONS));
const withDraft06 = configure(new Ajv(OPTIONS));
withDraft06.addMetaSchema(draft06);

/** The dialects a schema's `$schema` may name (http or https, with or without the trailing `#`), and the ajv that reads each. */
const DIALECTS: Record<string, { name: string; ajv: Ajv }> = {
  'json-schema.org/draft-07/schema': { name: 'draft-07', ajv: draft07 },
  'json-schema.org/draft-06/schema': { name: 'draft-06', ajv: withDraft06 },
  'json-schema.org/draft/2019-09/schema': { name: '2019-09', ajv: configure(new Ajv2019(OPTIONS)) },
  'json-schema.org/draft/2020-12/schema': { name: '2020-12', ajv: configure(new Ajv2020(OPTIONS)) },
};

/** The ajv of a schema's dialect; throws naming the `$schema` when it is one PromptLab does not read. */
function dialectOf(schema: Record<string, unknown>): { name: string; ajv: Ajv } {
  const named = schema.$schema;
  if (named === undefined) return DIALECTS['json-schema.org/draft-07/schema']!;
  const key = typeof named === 'string' ? named.replace(/^https?:\/\//, '').replace(/#$/, '') : '';
  const dialect = DIALECTS[key];
  if (!dialect) {
    throw new SchemaError(`$schema ${JSON.stringify(named).slice(0, 120)} is not a dialect PromptLab reads (draft-06, draft-07, 2019-09, 2020-12; none means ${DEFAULT_DIALECT})`);
  }
  return dialect;
}

/** A schema PromptLab will not compile: its message names the problem. */
export class SchemaError extends Error {
  override name = 'SchemaError';
  constructor(message: string, readonly details: Record<string, unknown> = {}) {
    super(message);
  }
}

const compiled = new LRUCache<string, ValidateFunction>({ max: 500 });

function depthOf(value: unknown, limit: number): number {
  if (value === null || typeof value !== 'object') return 0;
  if (limit <= 0) return 1;
  let max = 0;
  for (const v of Object.values(value)) max = Math.max(max, depthOf(v, limit - 1));
  return max + 1;
}

/** Compiles (once per distinct schema) a schema in the dialect its `$schema` names; throws on an invalid schema. */
export function outputValidator(schema: Record<string, unknown>): ValidateFunction {
  const key = canonicalJson(schema);
  let fn = compiled.get(key);
  if (!fn) {
    const { ajv } = dialectOf(schema);
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

// Keywords whose subschemas apply to the same value as the schema holding them, and those whose
// subschemas apply to values inside it (a property, an item). Maps of subschemas hold one per key.
const IN_PLACE = new Set(['allOf', 'anyOf', 'oneOf', 'not', 'if', 'then', 'else', 'dependentSchemas', 'dependencies']);
const INSIDE = new Set(['properties', 'patternProperties', 'additionalProperties', 'propertyNames', 'items', 'prefixItems',
  'additionalItems', 'contains', 'unevaluatedItems', 'unevaluatedProperties']);
const MAPS = new Set(['properties', 'patternProperties', 'dependentSchemas', 'dependencies']);
const REFS = new Set(['$ref', '$dynamicRef', '$recursiveRef']);

/**
 * An upper bound on the subschema checks one value of an answer can cost: a schema costs 1,
 * plus the sum of what applies to the same value (its `$ref` target, each `allOf`/`anyOf`/
 * `oneOf` branch, `not`, `if`/`then`/`else`), plus the most any one value inside it can cost
 * (a property's or an item's schema). So a `$ref` fan-out (each level referring twice to the
 * next) doubles per level, while a definition referred to by 500 properties costs once.
 * Recursion through `$ref` counts the target once: it applies again only to values nested
 * deeper in the answer, which its size bounds. Stops counting past `limit`.
 */
export function schemaCost(root: Record<string, unknown>, limit = MAX_SCHEMA_COST): number {
  const memo = new Map<object, number>();
  const open = new Set<object>();
  const resolve = (ref: string): unknown => {
    if (!ref.startsWith('#')) return undefined;
    let node: unknown = root;
    for (const raw of ref.slice(1).split('/').slice(1)) {
      const part = decodeURIComponent(raw).replaceAll('~1', '/').replaceAll('~0', '~');
      node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[part] : undefined;
    }
    return node;
  };
  const subschemas = (key: string, v: unknown): unknown[] =>
    Array.isArray(v) ? v : MAPS.has(key) && v !== null && typeof v === 'object' ? Object.values(v) : [v];
  const cost = (node: unknown): number => {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return 0;
    const known = memo.get(node);
    if (known !== undefined) return known;
    if (open.has(node)) return 1;
    open.add(node);
    let here = 1;
    let inside = 0;
    for (const [key, v] of Object.entries(node)) {
      if (REFS.has(key) && typeof v === 'string') here += cost(resolve(v)) || 1;
      else if (IN_PLACE.has(key)) for (const s of subschemas(key, v)) here += cost(s);
      else if (INSIDE.has(key)) for (const s of subschemas(key, v)) inside = Math.max(inside, cost(s));
      if (here + inside > limit) break;
    }
    open.delete(node);
    const total = Math.min(here + inside, limit + 1);
    memo.set(node, total);
    return total;
  };
  return cost(root);
}

/**
 * Checks a JSON Schema before anything is stored or paid for: at most MAX_SCHEMA_BYTES and
 * MAX_SCHEMA_DEPTH, at most MAX_SCHEMA_COST checks per value, a dialect PromptLab reads, valid
 * in it, and patterns RE2 can run. Throws a SchemaError naming the problem.
 */
export function assertSchema(schema: Record<string, unknown>): void {
  const bytes = Buffer.byteLength(JSON.stringify(schema));
  if (bytes > MAX_SCHEMA_BYTES) throw new SchemaError(`is ${bytes} bytes of JSON; the limit is ${MAX_SCHEMA_BYTES}.`, { bytes, limit: MAX_SCHEMA_BYTES });
  if (depthOf(schema, MAX_SCHEMA_DEPTH) > MAX_SCHEMA_DEPTH) throw new SchemaError(`nests deeper than ${MAX_SCHEMA_DEPTH} levels.`, { limit: MAX_SCHEMA_DEPTH });
  const dialect = dialectOf(schema);
  const cost = schemaCost(schema);
  if (cost > MAX_SCHEMA_COST) {
    throw new SchemaError(`could cost more than ${MAX_SCHEMA_COST} subschema checks per value of the answer ($ref, allOf, anyOf and oneOf multiply what applies to one value); flatten its references.`, { limit: MAX_SCHEMA_COST });
  }
  try {
    outputValidator(schema);
  } catch (err) {
    if (err instanceof PatternError) throw new SchemaError(err.message, { pattern: err.pattern });
    throw new SchemaError(`is not a valid JSON Schema (${dialect.name}): ${(err as Error).message}`);
  }
}

/** {@link assertSchema}, answering a 400 with `code` whose message starts with `what` (e.g. `outputSchema`). */
export function checkSchema(schema: Record<string, unknown> | null | undefined, what: string, code: ErrorCode, details: Record<string, unknown> = {}): void {
  if (!schema) return;
  try {
    assertSchema(schema);
  } catch (err) {
    if (err instanceof SchemaError) throw new AppError(code, `${what} ${err.message}`, { ...details, ...err.details });
    throw err;
  }
}

/** A template's outputSchema checked as {@link checkSchema} does: 400 `invalid_template`. */
export const checkOutputSchema = (schema: Record<string, unknown> | null | undefined): void => checkSchema(schema, 'outputSchema', 'invalid_template');

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
  if (!validate(json)) return { ok: false, reason: `the JSON does not match outputSchema: ${draft07.errorsText(validate.errors)}` };
  return { ok: true, json };
}
