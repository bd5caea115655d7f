import { Value } from 'typebox/value';
import { ConfigError } from './error.js';
import { estimateBits, HOW_TO_MAKE_A_KEY, MIN_ADMIN_KEY_BITS } from './key-strength.js';
import { parsePricingJson } from './pricing-json.js';
import { parseProvidersJson, type CompatibleProviderConfig } from './providers-json.js';
import { ConfigSchema, type Config as EnvConfig } from './schema.js';

export { ConfigError } from './error.js';
export { ConfigSchema } from './schema.js';
export type { CompatibleProviderConfig } from './providers-json.js';

/** The parsed environment, plus what `loadConfig` derives from it. */
export type Config = Omit<EnvConfig, 'REDIS_PREFIX'> & {
  /** REDIS_PREFIX, or `promptlab` when it is unset (see `redisPrefixGiven`). */
  readonly REDIS_PREFIX: string;
  /** REDIS_PREFIX was set: `npm start` on its embedded database then keeps it rather than using one of its own. */
  readonly redisPrefixGiven?: boolean;
  /**
   * The `PROVIDERS_JSON` providers with their keys read from their `apiKeyEnv` variables.
   * @defaultValue `[]` (a config built without `loadConfig` may leave it out)
   */
  readonly compatibleProviders?: readonly CompatibleProviderConfig[];
  /**
   * The environment as it was at boot, for the variables a routing document names (`apiKeyEnv`),
   * which can change while the server runs (`PUT /v1/routes`). Not enumerable, so it is never
   * serialized with the config.
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
};

/** The Redis prefix when REDIS_PREFIX is unset (except for `npm start` on its embedded database). */
export const DEFAULT_REDIS_PREFIX = 'promptlab';

/**
 * Parses the environment once. Unknown variables are ignored; empty strings
 * count as unset; a value of the wrong shape throws a ConfigError naming it.
 * `PROVIDERS_JSON` is parsed here and the variables its `apiKeyEnv`s name are read here, once.
 * Shapes only: what needs the provider registry (a `DEFAULT_PROVIDER` or `PRICING_JSON` provider
 * that does not exist, a `PROVIDERS_JSON` name that is a built-in's) is checked when the registry
 * is built at boot (src/providers/registry.ts), with the same kind of message.
 */
export function loadConfig(env: NodeJS.ProcessEnv | Record<string, string | undefined> = process.env): Config {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(ConfigSchema.properties)) {
    const v = env[key];
    if (v !== undefined && v !== '') raw[key] = v;
  }
  const value = Value.Convert(ConfigSchema, Value.Default(ConfigSchema, raw));
  const errors = Value.Errors(ConfigSchema, value);
  const byName = new Map<string, string>();
  for (const e of errors) {
    const name = e.instancePath.replace(/^\//, '') || '(root)';
    const shown = /_KEY$/.test(name) ? '(secret, not shown)' : JSON.stringify(raw[name] ?? '');
    if (!byName.has(name)) byName.set(name, `${name}=${shown}: ${e.message}`);
  }
  let compatibleProviders: CompatibleProviderConfig[] = [];
  if (typeof raw.PROVIDERS_JSON === 'string') {
    const parsed = parseProvidersJson(raw.PROVIDERS_JSON, env);
    if ('problem' in parsed) byName.set('PROVIDERS_JSON', parsed.problem);
    else compatibleProviders = parsed.value;
  }
  if (typeof raw.PRICING_JSON === 'string') {
    const pricing = parsePricingJson(raw.PRICING_JSON);
    if ('problem' in pricing) byName.set('PRICING_JSON', pricing.problem);
  }
  if (typeof raw.PROMPTLAB_ADMIN_KEY === 'string' && !byName.has('PROMPTLAB_ADMIN_KEY')) {
    const bits = estimateBits(raw.PROMPTLAB_ADMIN_KEY);
    if (bits < MIN_ADMIN_KEY_BITS) {
      byName.set('PROMPTLAB_ADMIN_KEY', `PROMPTLAB_ADMIN_KEY=(secret, not shown): too easy to guess (about ${bits} bits; at least ${MIN_ADMIN_KEY_BITS} needed): ${HOW_TO_MAKE_A_KEY}`);
    }
  }
  if (byName.size > 0) {
    const lines = [...byName.values()];
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const parsed = value as EnvConfig;
  const config: Config = { ...parsed, REDIS_PREFIX: parsed.REDIS_PREFIX ?? DEFAULT_REDIS_PREFIX, redisPrefixGiven: parsed.REDIS_PREFIX !== undefined, compatibleProviders };
  return Object.defineProperty(config, 'env', { value: Object.freeze({ ...env }), enumerable: false });
}
