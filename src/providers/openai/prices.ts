import type { ModelPrice } from '../../llm/price.js';

/** `cached`: the price of input tokens read from OpenAI's automatic prompt cache. */
const price = (inputPerMTok: number, outputPerMTok: number, cached: number): ModelPrice => ({ inputPerMTok, outputPerMTok, cacheReadPerMTok: cached });

/** OpenAI's list prices, USD per million input/output tokens; dated snapshots match by prefix (`gpt-4o-2024-08-06`). */
export const OPENAI_PRICES: Readonly<Record<string, ModelPrice>> = {
  'gpt-4o': price(2.5, 10, 1.25),
  'gpt-4o-mini': price(0.15, 0.6, 0.075),
  'gpt-4.1': price(2, 8, 0.5),
  'gpt-4.1-mini': price(0.4, 1.6, 0.1),
  // Listed so prefix matching does not price the nano models as their larger siblings.
  'gpt-4.1-nano': price(0.1, 0.4, 0.025),
  'gpt-5': price(1.25, 10, 0.125),
  'gpt-5-mini': price(0.25, 2, 0.025),
  'gpt-5-nano': price(0.05, 0.4, 0.005),
  // Embedding models: input only.
  'text-embedding-3-small': price(0.02, 0, 0.02),
  'text-embedding-3-large': price(0.13, 0, 0.13),
  'text-embedding-ada-002': price(0.1, 0, 0.1),
};
