import type { ModelPrice } from '../../llm/price.js';

/** Prompt-cache reads cost a tenth of input, 5-minute cache writes a quarter more than input. */
const price = (inputPerMTok: number, outputPerMTok: number): ModelPrice => ({
  inputPerMTok, outputPerMTok, cacheReadPerMTok: inputPerMTok / 10, cacheWritePerMTok: inputPerMTok * 1.25,
});

/** Anthropic's list prices, USD per million input/output tokens (and cache reads/writes); dated snapshots match by prefix (`claude-haiku-4-5-20251001`). */
export const ANTHROPIC_PRICES: Readonly<Record<string, ModelPrice>> = {
  'claude-opus-4-5': price(5, 25),
  'claude-opus-4-1': price(15, 75),
  'claude-sonnet-4-5': price(3, 15),
  'claude-haiku-4-5': price(1, 5),
  'claude-3-5-haiku-latest': price(0.8, 4),
};
