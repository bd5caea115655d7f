import type { CompatibleProviderConfig } from '../../config/providers-json.js';
import type { ModelPrice } from '../../llm/price.js';
import { createOpenAIProvider } from '../openai/client.js';
import { openaiErrors } from '../openai/errors.js';
import { openaiUnsupported } from '../openai/wire.js';
import type { ProviderDefinition } from '../types.js';

/**
 * A `PROVIDERS_JSON` entry as a provider: the openai SDK pointed at its `baseUrl`, its
 * prices from its `models`, always enabled (it is configured by being listed).
 */
export function compatibleDefinition(entry: CompatibleProviderConfig): ProviderDefinition {
  const prices: Record<string, ModelPrice> = {};
  for (const m of entry.models) prices[m.name] = { inputPerMTok: m.input, outputPerMTok: m.output };
  return {
    name: entry.name,
    defaultModel: entry.defaultModel,
    configVariables: ['PROVIDERS_JSON', 'PROVIDER_TIMEOUT_MS'],
    dialect: 'openai',
    capabilities: ['chat', 'stream', 'json', 'tools', 'vision', 'embed'],
    unsupported: openaiUnsupported,
    errors: openaiErrors,
    modelPrefixes: [],
    prices,
    enabled: () => true,
    create: (config) =>
      createOpenAIProvider({
        name: entry.name,
        baseURL: entry.baseUrl,
        timeoutMs: config.PROVIDER_TIMEOUT_MS,
        ...(entry.apiKey && { apiKey: entry.apiKey }),
      }),
  };
}
