import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';

const UsdPerMTok = Type.Number({ minimum: 0, maximum: 1_000_000, description: 'USD per million tokens' });
const ModelEntry = Type.Object(
  { name: Type.String({ pattern: '^.{1,200}$' }), input: UsdPerMTok, output: UsdPerMTok },
  { additionalProperties: false },
);
const Entry = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z][a-z0-9_-]{0,39}$', description: 'lowercase, the name requests and templates use' }),
    baseUrl: Type.String({ pattern: '^https?://', description: 'API root including /v1' }),
    apiKeyEnv: Type.Optional(Type.String({ pattern: '^[A-Z_][A-Z0-9_]*$', description: 'name of the variable holding the key' })),
    models: Type.Array(ModelEntry, { minItems: 1 }),
    defaultModel: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);

/** The shape of `PROVIDERS_JSON`: an array of OpenAI-compatible servers, each usable by its name. */
export const ProvidersJsonSchema = Type.Array(Entry);

/** One `PROVIDERS_JSON` entry as the registry uses it, its key already read from the environment. */
export interface CompatibleProviderConfig {
  name: string;
  baseUrl: string;
  /** The value of `apiKeyEnv`, read once by `loadConfig`; never logged. */
  apiKey?: string;
  /** Prices in USD per million tokens, by model. */
  models: { name: string; input: number; output: number }[];
  /** @defaultValue the first of `models` */
  defaultModel: string;
}

/**
 * Parses and checks `PROVIDERS_JSON` (its shape, unique names, default models, keys set), reading
 * each `apiKeyEnv` from `env`; that no name is a built-in provider's is the registry's to check. Returns the
 * providers, or a one-line problem naming the variable and the place (never a key's value).
 */
export function parseProvidersJson(text: string, env: Record<string, string | undefined>): { value: CompatibleProviderConfig[] } | { problem: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return { problem: `PROVIDERS_JSON is not valid JSON (${(err as Error).message})` };
  }
  const e = Value.Errors(ProvidersJsonSchema, doc).find((x) => x.message !== 'schema is false');
  if (e) {
    const extra = (e.params as { additionalProperties?: string[] }).additionalProperties;
    const where = e.instancePath || '(root)';
    if (extra) return { problem: `PROVIDERS_JSON ${where} has unknown field ${JSON.stringify(extra[0])}` };
    return { problem: `PROVIDERS_JSON ${where} ${e.message}; expected [{"name","baseUrl","apiKeyEnv"?,"models":[{"name","input","output"}],"defaultModel"?}]` };
  }
  const entries = doc as Static<typeof ProvidersJsonSchema>;
  const seen = new Set<string>();
  const value: CompatibleProviderConfig[] = [];
  for (const [i, p] of entries.entries()) {
    if (seen.has(p.name)) return { problem: `PROVIDERS_JSON /${i}/name "${p.name}" is used twice` };
    seen.add(p.name);
    const defaultModel = p.defaultModel ?? p.models[0]!.name;
    if (!p.models.some((m) => m.name === defaultModel)) {
      return { problem: `PROVIDERS_JSON /${i}/defaultModel "${defaultModel}" is not one of its models` };
    }
    const apiKey = p.apiKeyEnv === undefined ? undefined : env[p.apiKeyEnv];
    if (p.apiKeyEnv !== undefined && !apiKey) {
      return { problem: `PROVIDERS_JSON /${i}/apiKeyEnv names ${p.apiKeyEnv}, which is not set` };
    }
    value.push({ name: p.name, baseUrl: p.baseUrl, models: p.models, defaultModel, ...(apiKey && { apiKey }) });
  }
  return { value };
}
