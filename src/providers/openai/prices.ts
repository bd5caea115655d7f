import type { ModelPrice } from '../../llm/price.js';

const price = (inputPerMTok: number, outputPerMTok: number): ModelPrice => ({ inputPerMTok, outputPerMTok });

/** OpenAI's list prices, USD per million input/output tokens; dated snapshots match by prefix (`gpt-4o-2024-08-06`). */
export const OPENAI_PRICES: Readonly<Record<string, ModelPrice>> = {
  'gpt-4o': price(2.5, 10),
  'gpt-4o-mini': price(0.15, 0.6),
  'gpt-4.1': price(2, 8),
  'gpt-4.1-mini': price(0.4, 1.6),
  // Listed so prefix matching does not price the nano models as their larger siblings.
  'gpt-4.1-nano': price(0.1, 0.4),
  'gpt-5': price(1.25, 10),
  'gpt-5-mini': price(0.25, 2),
  'gpt-5-nano': price(0.05, 0.4),
};
