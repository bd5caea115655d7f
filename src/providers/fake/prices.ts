import type { ModelPrice } from '../../llm/price.js';

/** Illustrative, not a real price: lets spend accounting be exercised without a paid provider. */
export const FAKE_PRICES: Readonly<Record<string, ModelPrice>> = {
  'fake-1': { inputPerMTok: 1, outputPerMTok: 2 },
};
