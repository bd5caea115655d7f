import { createHash } from 'node:crypto';
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

/** SHA-256 (hex) of `value`'s canonical JSON. */
export const canonicalHash = (value: unknown): string => createHash('sha256').update(canonicalJson(value)).digest('hex');

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
 * key variables stand for them (README "Identity of an input").
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
