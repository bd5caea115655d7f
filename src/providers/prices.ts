import { ConfigError, type Config } from '../config/index.js';
import { parsePricingJson } from '../config/pricing-json.js';
import type { ModelPrice } from '../llm/price.js';
import { PRICING } from './built-in.js';

/** Operator price overrides, by provider then model (the parsed `PRICING_JSON`, and the `PROVIDERS_JSON` providers' prices). */
export type PricingOverrides = Partial<Record<string, Record<string, OverridePrice>>>;
type OverridePrice = { input: number; output: number; cacheRead?: number; cacheWrite?: number };

/** Price tables by overrides (those of the registry, built once at boot), then provider. */
const tables = new WeakMap<object, Map<string, Map<string, ModelPrice>>>();
const NO_OVERRIDES = {};
const NO_PRICES: ReadonlyMap<string, ModelPrice> = new Map();

/** The built-in table of `provider` with the overrides on top, built once for each. */
function priceTable(provider: string, overrides: PricingOverrides = NO_OVERRIDES): ReadonlyMap<string, ModelPrice> {
  let byProvider = tables.get(overrides);
  if (!byProvider) tables.set(overrides, (byProvider = new Map()));
  let table = byProvider.get(provider);
  if (table) return table;
  // A provider with no prices anywhere gets no table kept: its name may come from a request.
  if (!Object.hasOwn(PRICING, provider) && !Object.hasOwn(overrides, provider)) return NO_PRICES;
  // A Map, not an object: model names come from requests, and `toString` must not match.
  table = new Map(Object.entries(Object.hasOwn(PRICING, provider) ? PRICING[provider]! : {}));
  for (const [name, p] of Object.entries(overrides[provider] ?? {})) {
    table.set(name, {
      inputPerMTok: p.input, outputPerMTok: p.output,
      ...(p.cacheRead !== undefined ? { cacheReadPerMTok: p.cacheRead } : {}), ...(p.cacheWrite !== undefined ? { cacheWritePerMTok: p.cacheWrite } : {}),
    });
  }
  byProvider.set(provider, table);
  return table;
}

/**
 * The price of `model` on `provider`: an exact name first, then the longest name in the
 * table that `model` starts with (`claude-haiku-4-5-20251001` → `claude-haiku-4-5`). Overrides
 * take precedence over the built-in table at each step. Undefined for an unknown model (its cost
 * is then unknown, not zero).
 */
export function priceFor(provider: string, model: string, overrides?: PricingOverrides): ModelPrice | undefined {
  const table = priceTable(provider, overrides);
  const exact = table.get(model);
  if (exact) return exact;
  let best: string | undefined;
  for (const name of table.keys()) {
    if (model.startsWith(name) && name.length > (best?.length ?? 0)) best = name;
  }
  return best === undefined ? undefined : table.get(best);
}

/**
 * The prices on top of the built-in tables: those of the `PROVIDERS_JSON` providers (from their
 * `models`), then the operator's `PRICING_JSON`; undefined when neither is set. `loadConfig` has
 * checked `PRICING_JSON`'s shape (a config built some other way gets the same ConfigError here);
 * the registry checks that its providers exist.
 */
export function pricingOf(config: Pick<Config, 'PRICING_JSON' | 'compatibleProviders'>): PricingOverrides | undefined {
  const overrides: Record<string, Record<string, OverridePrice>> = {};
  for (const p of config.compatibleProviders ?? []) {
    overrides[p.name] = Object.fromEntries(p.models.map((m) => [m.name, { input: m.input, output: m.output }]));
  }
  if (config.PRICING_JSON) {
    const r = parsePricingJson(config.PRICING_JSON);
    if ('problem' in r) throw new ConfigError(`invalid configuration:\n  ${r.problem}`);
    for (const [provider, models] of Object.entries(r.value)) overrides[provider] = { ...overrides[provider], ...models };
  }
  return Object.keys(overrides).length > 0 ? overrides : undefined;
}
