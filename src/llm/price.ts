import type { Usage } from './result.js';

/** A model's list price in USD per million tokens. */
export interface ModelPrice {
  inputPerMTok: number;
  outputPerMTok: number;
}

// USD per million tokens is µUSD per token, so ×1e6 gives integer pico-USD per token.
const picoPerToken = (usdPerMTok: number) => BigInt(Math.round(usdPerMTok * 1e6));
const count = (tokens: number) => BigInt(Math.round(tokens));

/**
 * Cost in USD of `usage` at `price`, rounded to the nearest nano-dollar (1e-9). Computed in
 * integer pico-dollars so per-token products carry no float noise.
 */
export function costUsd(usage: Usage, price: ModelPrice): number {
  const pico = count(usage.inputTokens) * picoPerToken(price.inputPerMTok) + count(usage.outputTokens) * picoPerToken(price.outputPerMTok);
  return Number((pico + 500n) / 1000n) / 1e9;
}
