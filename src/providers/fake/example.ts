import { createHash } from 'node:crypto';

type Schema = Record<string, unknown>;

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

const STRING_FORMATS: Record<string, string> = {
  date: '2024-01-01',
  'date-time': '2024-01-01T00:00:00Z',
  time: '00:00:00Z',
  email: 'fake@example.com',
  uri: 'https://example.com/fake',
  uuid: '00000000-0000-4000-8000-000000000000',
};

/**
 * A deterministic value conforming to `schema` (the subset used for structured output:
 * type, properties, items, enum, const, anyOf/oneOf/allOf, length and range bounds).
 * `seed` and the property path make strings differ between prompts and fields.
 */
export function exampleFor(schema: Schema, seed: string, path: string, root: Schema = schema, depth = 0): unknown {
  if (typeof schema.$ref === 'string') {
    const target = depth < 32 ? resolvePointer(root, schema.$ref) : undefined;
    return target ? exampleFor(target, seed, path, root, depth + 1) : null;
  }
  const at = (s: Schema, p: string) => exampleFor(s, seed, p, root, depth + 1);
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  const variants = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (Array.isArray(variants) && variants[0]) return at(variants[0], path);
  if (Array.isArray(schema.allOf)) {
    const parts = [schema, ...(schema.allOf as Schema[])];
    const merged: Schema = Object.assign({}, ...parts, {
      allOf: undefined,
      properties: Object.assign({}, ...parts.map((p) => p.properties ?? {})),
      required: parts.flatMap((p) => (Array.isArray(p.required) ? p.required : [])),
    });
    return at(merged, path);
  }
  const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type];
  const type = types.find((t) => t !== 'null') ?? types[0] ?? (schema.properties ? 'object' : 'string');
  const num = (key: string) => (typeof schema[key] === 'number' ? (schema[key] as number) : undefined);

  switch (type) {
    case 'object': {
      const props = (schema.properties ?? {}) as Record<string, Schema>;
      const required = Array.isArray(schema.required) ? (schema.required as string[]) : [];
      const out: Record<string, unknown> = {};
      for (const key of new Set([...Object.keys(props), ...required])) {
        out[key] = at(props[key] ?? {}, `${path}.${key}`);
      }
      return out;
    }
    case 'array': {
      const items = (Array.isArray(schema.prefixItems) ? schema.prefixItems[0] : schema.items) as Schema | undefined;
      const count = Math.min(Math.max(num('minItems') ?? 1, 1), num('maxItems') ?? Infinity);
      return Array.from({ length: count }, (_, i) => at(items ?? {}, `${path}[${i}]`));
    }
    case 'integer':
    case 'number': {
      const [min, exMin, max, exMax] = ['minimum', 'exclusiveMinimum', 'maximum', 'exclusiveMaximum'].map(num);
      const lo = min ?? (exMin !== undefined ? Math.floor(exMin) + 1 : undefined);
      const hi = max ?? (exMax !== undefined ? Math.ceil(exMax) - 1 : undefined);
      let n = lo ?? Math.min(1, hi ?? 1);
      // A number squeezed between fractional exclusive bounds takes the midpoint.
      if (type === 'number' && hi !== undefined && n > hi) n = ((min ?? exMin ?? 0) + (max ?? exMax ?? 0)) / 2;
      return type === 'integer' ? Math.ceil(n) : n;
    }
    case 'boolean':
      return true;
    case 'null':
      return null;
    default: {
      const format = typeof schema.format === 'string' ? STRING_FORMATS[schema.format] : undefined;
      if (format) return format;
      const base = `fake ${path} ${sha256(seed + path).slice(0, 8)}`;
      const min = num('minLength') ?? 0;
      const max = num('maxLength') ?? Infinity;
      return base.padEnd(min, '.').slice(0, max);
    }
  }
}

/** The subschema a local `$ref` (`#/$defs/x`, `#/definitions/x`) points at, if any. */
function resolvePointer(root: Schema, ref: string): Schema | undefined {
  if (!ref.startsWith('#')) return undefined;
  let node: unknown = root;
  for (const raw of ref.slice(1).split('/').filter(Boolean)) {
    const key = decodeURIComponent(raw).replaceAll('~1', '/').replaceAll('~0', '~');
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, key)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node !== null && typeof node === 'object' ? (node as Schema) : undefined;
}
