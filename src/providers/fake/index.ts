import type { ProviderDefinition } from '../types.js';
import { createFakeProvider, FAKE_MODEL } from './client.js';
import { FAKE_PRICES } from './prices.js';

export { createFakeProvider, estimateTokens, FAKE_EMBED_PREFIX, FAKE_MODEL, fakeVector, type FakeProviderOptions } from './client.js';
export { exampleFor } from './example.js';

/** `fake`: always enabled, no network. */
export const fakeDefinition: ProviderDefinition = {
  name: 'fake',
  defaultModel: FAKE_MODEL,
  configVariables: ['FAKE_LATENCY_MS'],
  dialect: 'none',
  capabilities: ['chat', 'stream', 'json', 'tools', 'vision', 'embed'],
  modelPrefixes: ['fake-'],
  prices: FAKE_PRICES,
  enabled: () => true,
  create: (config) => createFakeProvider({ latencyMs: config.FAKE_LATENCY_MS }),
};
