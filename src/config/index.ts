import { Value } from 'typebox/value';
import { parsePricingJson } from './pricing-json.js';
import { ConfigSchema, type Config } from './schema.js';

export type { Config } from './schema.js';
export { ConfigSchema } from './schema.js';

/** A bad environment value: the message names the variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Parses the environment once. Unknown variables are ignored; empty strings
 * count as unset; a value of the wrong shape throws a ConfigError naming it
 * (`PRICING_JSON` included: its JSON is parsed and checked here, read with `pricingOf`).
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
  if (typeof raw.PRICING_JSON === 'string') {
    const pricing = parsePricingJson(raw.PRICING_JSON);
    if ('problem' in pricing) byName.set('PRICING_JSON', pricing.problem);
  }
  if (byName.size > 0) {
    const lines = [...byName.values()];
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  return value as Config;
}
