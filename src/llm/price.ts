import type { Usage } from './usage.js';

/**
 * A model's list price in USD per million tokens. Prompt-cache reads and writes have their own
 * prices where the provider charges them apart; without one they cost what input costs.
 */
export interface ModelPrice {
  inputPerMTok: number;
  outputPerMTok: number;
  cacheReadPerMTok?: number;
  cacheWritePerMTok?: number;
}

// USD per million tokens is µUSD per token, so ×1e6 gives integer pico-USD per token.
const picoPerToken = (usdPerMTok: number) => BigInt(Math.round(usdPerMTok * 1e6));
const count = (tokens: number) => BigInt(Math.round(tokens));

/**
 * Cost in USD of `usage` at `price`, rounded to the nearest nano-dollar (1e-9): the input tokens
 * read from and written to the provider's prompt cache at their prices, the rest at the input
 * price. Computed in integer pico-dollars so per-token products carry no float noise.
 */
export function costUsd(usage: Usage, price: ModelPrice): number {
  const read = usage.cacheReadTokens ?? 0;
  const write = usage.cacheWriteTokens ?? 0;
  const plain = Math.max(0, usage.inputTokens - read - write);
  const pico = count(plain) * picoPerToken(price.inputPerMTok)
    + count(read) * picoPerToken(price.cacheReadPerMTok ?? price.inputPerMTok)
    + count(write) * picoPerToken(price.cacheWritePerMTok ?? price.inputPerMTok)
    + count(usage.outputTokens) * picoPerToken(price.outputPerMTok);
  return Number((pico + 500n) / 1000n) / 1e9;
}
