import type { ModelPrice } from '../../llm/price.js';

/** Illustrative, not a real price: lets spend accounting be exercised without a paid provider. */
export const FAKE_PRICES: Readonly<Record<string, ModelPrice>> = {
  'fake-1': { inputPerMTok: 1, outputPerMTok: 2, cacheReadPerMTok: 0.1, cacheWritePerMTok: 1.25 },
  'fake-embed-1': { inputPerMTok: 0.02, outputPerMTok: 0 },
};
