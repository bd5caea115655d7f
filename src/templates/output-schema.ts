import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { LRUCache } from 'lru-cache';
import { canonicalJson } from '../generation/hash.js';

const ajv = new Ajv({ strict: false, allErrors: false });
addFormats.default(ajv);
const compiled = new LRUCache<string, ValidateFunction>({ max: 500 });

/** Compiles (once per distinct schema) a template's outputSchema; throws on an invalid schema. */
export function outputValidator(schema: Record<string, unknown>): ValidateFunction {
  const key = canonicalJson(schema);
  let fn = compiled.get(key);
  if (!fn) {
    fn = ajv.compile(schema);
    compiled.set(key, fn);
  }
  return fn;
}

/** Parses a model's answer as JSON (a surrounding ``` fence is tolerated) and checks it against the schema. */
export function parseOutput(text: string, schema: Record<string, unknown>): { ok: true; json: unknown } | { ok: false; reason: string } {
  const body = /^\s*```(?:json)?\s*([\s\S]*?)\s*```\s*$/i.exec(text)?.[1] ?? text;
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, reason: 'the model did not answer with JSON' };
  }
  const validate = outputValidator(schema);
  if (!validate(json)) return { ok: false, reason: `the JSON does not match outputSchema: ${ajv.errorsText(validate.errors)}` };
  return { ok: true, json };
}
