import { createHash, hash as oneShot, type Hash } from 'node:crypto';
import type { GenerationRequest } from './request.js';

/** The project every object created before projects existed belongs to; left out of input hashes, so theirs still match. */
export const DEFAULT_PROJECT = 'default';

/** JSON with object keys sorted at every depth, so equal inputs hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

/** Strings JSON writes as they are (no escapes): base64 and the like. */
const PLAIN = /^[A-Za-z0-9+/=_.:-]*$/;

/**
 * SHA-256 (hex) of `value`'s canonical JSON. The small pieces are gathered into one string and fed
 * at once (each `update` is a call into native code: one per piece cost more than the hashing);
 * a large plain string (a base64 image) is fed where it lies, never copied into the text first.
 */
export function canonicalHash(value: unknown): string {
  // A streaming hash only once a large string needs one: a one-shot hash of a small text costs a third.
  let h: Hash | undefined;
  let text = '';
  const feed = (v: unknown): void => {
    if (typeof v === 'string') {
      if (v.length > 256 && PLAIN.test(v)) {
        h = (h ?? createHash('sha256')).update(`${text}"`).update(v);
        text = '"';
      } else text += JSON.stringify(v);
    } else if (v === null || typeof v !== 'object') text += JSON.stringify(v) ?? 'null';
    else if (Array.isArray(v)) {
      text += '[';
      for (let i = 0; i < v.length; i++) {
        if (i) text += ',';
        feed(v[i]);
      }
      text += ']';
    } else {
      const obj = v as Record<string, unknown>;
      const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
      text += '{';
      for (let i = 0; i < keys.length; i++) {
        text += `${i ? ',' : ''}${JSON.stringify(keys[i])}:`;
        feed(obj[keys[i]!]);
      }
      text += '}';
    }
  };
  feed(value);
  return h ? h.update(text).digest('hex') : oneShot('sha256', text, 'hex');
}

/** The template a request was rendered from, as far as it identifies the input. */
export interface TemplateIdentity {
  id: string;
  /** Bumped by every change, so a PATCH makes old results stop answering. */
  version: number;
  /** The values of the template's `keyFields`, when it declares them: then only these identify the input. */
  keyVariables?: Record<string, unknown>;
}

/**
 * The input hash: SHA-256 (hex) of the canonical JSON of `{request, template?, project?}`
 * (`project` unless it is `default`). With
 * `keyVariables`, the rendered `system` and `messages` are left out of `request` and the
 * key variables stand for them (docs/api.md, "Identity of an input").
 */
export function inputHash(request: GenerationRequest, template?: TemplateIdentity, projectId: string = DEFAULT_PROJECT): string {
  // The project is part of the input, so two projects never share a generation, a slot or a cache
  // entry; `default` is left out, so the hashes (and cached results) from before projects still match.
  const project = projectId === DEFAULT_PROJECT ? {} : { project: projectId };
  if (!template) return canonicalHash({ request, ...project });
  const { id, version, keyVariables } = template;
  if (!keyVariables) return canonicalHash({ request, template: { id, version }, ...project });
  const { system: _system, messages: _messages, ...rest } = request;
  return canonicalHash({ request: rest, template: { id, version, keyVariables }, ...project });
}

/**
 * The cache key of one embedded text: its provider, model and dimensions, the text, and the
 * project (left out for `default`, as in `inputHash`). An array of texts is cached text by text.
 */
export function embeddingHash(provider: string, model: string, dimensions: number | undefined, text: string, projectId: string = DEFAULT_PROJECT): string {
  const project = projectId === DEFAULT_PROJECT ? {} : { project: projectId };
  return canonicalHash({ embedding: { provider, model, ...(dimensions !== undefined ? { dimensions } : {}), text }, ...project });
}

/** `total` tokens shared among texts in proportion to their lengths, summing to `total` exactly. */
export function shareTokens(texts: readonly string[], total: number): number[] {
  const weights = texts.map((t) => Math.max(1, t.length));
  const sum = weights.reduce((a, b) => a + b, 0);
  const shares = weights.map((w) => Math.floor((w * total) / sum));
  let left = total - shares.reduce((a, b) => a + b, 0);
  for (let i = 0; left > 0; i = (i + 1) % shares.length, left--) shares[i]!++;
  return shares;
}
