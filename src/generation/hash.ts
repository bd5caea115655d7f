import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every depth, so equal inputs hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

export interface HashInput {
  templateId: string;
  templateVersion: number;
  provider: string;
  model: string;
  params: { maxTokens: number; temperature: number | null };
  /** All variables, or only the template's keyFields when it declares them. */
  variables: Record<string, unknown>;
}

/** SHA-256 (hex) of `value`'s canonical JSON. */
export const canonicalHash = (value: unknown): string => createHash('sha256').update(canonicalJson(value)).digest('hex');

/** The input hash of the spec: SHA-256 (hex) of the canonical JSON of the generation's identity. */
export const inputHash = (input: HashInput): string => canonicalHash(input);
