import { ConfigError } from '../config/error.js';
import type { Config } from '../config/index.js';
import { parsePricingJson } from '../config/pricing-json.js';

/** A model's list price in USD per million tokens. */
export interface ModelPrice {
  inputPerMTok: number;
  outputPerMTok: number;
}

/** Operator price overrides, by provider then model (the parsed `PRICING_JSON`). */
export type PricingOverrides = Partial<Record<string, Record<string, { input: number; output: number }>>>;

const price = (inputPerMTok: number, outputPerMTok: number): ModelPrice => ({ inputPerMTok, outputPerMTok });

/**
 * List prices of the built-in providers, USD per million input/output tokens, one entry
 * per provider of the registry's `BUILT_IN_PROVIDERS`. Dated snapshots match by prefix
 * (`claude-haiku-4-5-20251001` → `claude-haiku-4-5`); override with `PRICING_JSON`.
 * `PROVIDERS_JSON` providers bring their own prices (see {@link pricingOf}).
 */
export const PRICING: Readonly<Record<string, Readonly<Record<string, ModelPrice>>>> = {
  anthropic: {
    'claude-opus-4-5': price(5, 25),
    'claude-opus-4-1': price(15, 75),
    'claude-sonnet-4-5': price(3, 15),
    'claude-haiku-4-5': price(1, 5),
    'claude-3-5-haiku-latest': price(0.8, 4),
  },
  openai: {
    'gpt-4o': price(2.5, 10),
    'gpt-4o-mini': price(0.15, 0.6),
    'gpt-4.1': price(2, 8),
    'gpt-4.1-mini': price(0.4, 1.6),
    // Listed so prefix matching does not price the nano models as their larger siblings.
    'gpt-4.1-nano': price(0.1, 0.4),
    'gpt-5': price(1.25, 10),
    'gpt-5-mini': price(0.25, 2),
    'gpt-5-nano': price(0.05, 0.4),
  },
  // Illustrative, not a real price: lets spend accounting be exercised without a paid provider.
  fake: {
    'fake-1': price(1, 2),
  },
};

/**
 * The price of `model` on `provider`: an exact name first, then the longest name in the
 * table that `model` starts with. Overrides take precedence over the built-in table at
 * each step. Undefined for an unknown model (its cost is then unknown, not zero).
 */
export function priceFor(provider: string, model: string, overrides?: PricingOverrides): ModelPrice | undefined {
  // A Map, not an object: model names come from requests, and `toString` must not match.
  const table = new Map(Object.entries(Object.hasOwn(PRICING, provider) ? PRICING[provider]! : {}));
  for (const [name, p] of Object.entries(overrides?.[provider] ?? {})) table.set(name, price(p.input, p.output));
  const exact = table.get(model);
  if (exact) return exact;
  let best: string | undefined;
  for (const name of table.keys()) {
    if (model.startsWith(name) && name.length > (best?.length ?? 0)) best = name;
  }
  return best === undefined ? undefined : table.get(best);
}

let parsed: { text: string | undefined; compatible: Config['compatibleProviders']; overrides: PricingOverrides | undefined } | undefined;

/**
 * The prices on top of {@link PRICING}: those of the `PROVIDERS_JSON` providers (from their
 * `models`), then the operator's `PRICING_JSON` overrides; undefined when neither is set.
 * Computed once per distinct value. `loadConfig` has already refused a bad `PRICING_JSON`;
 * a config built some other way gets the same ConfigError here.
 */
export function pricingOf(config: Pick<Config, 'PRICING_JSON' | 'compatibleProviders'>): PricingOverrides | undefined {
  const text = config.PRICING_JSON;
  const compatible = config.compatibleProviders;
  if (parsed && parsed.text === text && parsed.compatible === compatible) return parsed.overrides;
  const overrides: Record<string, Record<string, { input: number; output: number }>> = {};
  for (const p of compatible ?? []) {
    overrides[p.name] = Object.fromEntries(p.models.map((m) => [m.name, { input: m.input, output: m.output }]));
  }
  if (text) {
    const names = [...Object.keys(PRICING), ...(compatible ?? []).map((p) => p.name)];
    const r = parsePricingJson(text, names);
    if ('problem' in r) throw new ConfigError(`invalid configuration:\n  ${r.problem}`);
    for (const [provider, models] of Object.entries(r.value)) overrides[provider] = { ...overrides[provider], ...models };
  }
  const result = Object.keys(overrides).length > 0 ? overrides : undefined;
  parsed = { text, compatible, overrides: result };
  return result;
}

// USD per million tokens is µUSD per token, so ×1e6 gives integer pico-USD per token.
const picoPerToken = (usdPerMTok: number) => BigInt(Math.round(usdPerMTok * 1e6));
const count = (tokens: number) => BigInt(Math.round(tokens));

/**
 * Cost in USD of `usage` at `price`, rounded to the nearest nano-dollar (1e-9). Computed in
 * integer pico-dollars so per-token products carry no float noise.
 */
export function costUsd(usage: { inputTokens: number; outputTokens: number }, price: ModelPrice): number {
  const pico =
    count(usage.inputTokens) * picoPerToken(price.inputPerMTok) +
    count(usage.outputTokens) * picoPerToken(price.outputPerMTok);
  return Number((pico + 500n) / 1000n) / 1e9;
}
