import { ConfigError, type Config } from '../config/index.js';
import { parsePricingJson } from '../config/pricing-json.js';
import type { ProviderName } from './types.js';

/** A model's list price in USD per million tokens. */
export interface ModelPrice {
  inputPerMTok: number;
  outputPerMTok: number;
}

/** Operator price overrides, by provider then model (the parsed `PRICING_JSON`). */
export type PricingOverrides = Partial<Record<string, Record<string, { input: number; output: number }>>>;

const price = (inputPerMTok: number, outputPerMTok: number): ModelPrice => ({ inputPerMTok, outputPerMTok });

/**
 * List prices, USD per million input/output tokens. Dated snapshots match by prefix
 * (`claude-haiku-4-5-20251001` → `claude-haiku-4-5`); override with `PRICING_JSON`.
 */
export const PRICING: Record<ProviderName, Record<string, ModelPrice>> = {
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
  const table = new Map(Object.entries(PRICING[provider as ProviderName] ?? {}));
  for (const [name, p] of Object.entries(overrides?.[provider] ?? {})) table.set(name, price(p.input, p.output));
  const exact = table.get(model);
  if (exact) return exact;
  let best: string | undefined;
  for (const name of table.keys()) {
    if (model.startsWith(name) && name.length > (best?.length ?? 0)) best = name;
  }
  return best === undefined ? undefined : table.get(best);
}

let parsed: { text: string; overrides: PricingOverrides } | undefined;

/**
 * The operator's price overrides (`PRICING_JSON`), parsed once per distinct value;
 * undefined when unset. `loadConfig` has already refused a bad value; a config
 * built some other way gets the same ConfigError here.
 */
export function pricingOf(config: Pick<Config, 'PRICING_JSON'>): PricingOverrides | undefined {
  const text = config.PRICING_JSON;
  if (!text) return undefined;
  if (parsed?.text !== text) {
    const r = parsePricingJson(text);
    if ('problem' in r) throw new ConfigError(`invalid configuration:\n  ${r.problem}`);
    parsed = { text, overrides: r.value };
  }
  return parsed.overrides;
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
