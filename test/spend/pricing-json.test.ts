import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { priceFor, pricingOf } from '../../src/providers/prices.js';
import { ProviderRegistry } from '../../src/providers/registry.js';

/** What a process does at boot: parse the environment, then build the provider registry, which checks what needs it. */
const boot = (env: Record<string, string>) => new ProviderRegistry(loadConfig(env));

describe('PRICING_JSON is checked at boot', () => {
  it('parses once into overrides that priceFor uses', () => {
    const registry = boot({ PRICING_JSON: '{"openai":{"llama3":{"input":0,"output":0}},"anthropic":{"claude-haiku-4-5":{"input":2,"output":4}}}' });
    const overrides = registry.overrides;
    expect(registry.overrides).toBe(overrides);
    expect(priceFor('openai', 'llama3', overrides)).toEqual({ inputPerMTok: 0, outputPerMTok: 0 });
    expect(priceFor('anthropic', 'claude-haiku-4-5-20251001', overrides)).toEqual({ inputPerMTok: 2, outputPerMTok: 4 });
    expect(registry.price('anthropic', 'claude-haiku-4-5-20251001')).toEqual({ inputPerMTok: 2, outputPerMTok: 4 });
    expect(boot({}).overrides).toBeUndefined();
  });

  it.each([
    ['not JSON', '{"openai":', /PRICING_JSON is not valid JSON/],
    ['a negative price', '{"openai":{"gpt-17":{"input":-1,"output":2}}}', /PRICING_JSON \/openai\/gpt-17\/input must be >= 0/],
    ['an unknown provider', '{"mistral":{"large":{"input":1,"output":2}}}', /PRICING_JSON names unknown provider "mistral" \(known: anthropic, openai, fake\)/],
    ['a missing output price', '{"openai":{"gpt-17":{"input":1}}}', /PRICING_JSON \/openai\/gpt-17 must have required properties output/],
    ['a price as a string', '{"openai":{"gpt-17":{"input":"1","output":2}}}', /PRICING_JSON \/openai\/gpt-17\/input must be number/],
    ['an unknown field', '{"openai":{"gpt-17":{"input":1,"output":2,"cached":1}}}', /PRICING_JSON \/openai\/gpt-17 has unknown field "cached"/],
    ['an empty model name (a prefix of every model)', '{"openai":{"":{"input":0,"output":0}}}', /PRICING_JSON \/openai: model names/],
    ['an array', '[]', /PRICING_JSON \(root\) must be object/],
  ])('refuses %s, naming PRICING_JSON', (_what, value, message) => {
    expect(() => boot({ PRICING_JSON: value })).toThrow(ConfigError);
    expect(() => boot({ PRICING_JSON: value })).toThrow(message);
  });

  it('reports it beside the other bad variables', () => {
    expect(() => loadConfig({ PORT: 'abc', PRICING_JSON: 'nope' })).toThrow(/PORT="abc"[\s\S]*PRICING_JSON is not valid JSON/);
  });

  it('a config built without loadConfig is checked when read', () => {
    expect(() => pricingOf({ PRICING_JSON: '{"openai":{"x":{"input":-1,"output":0}}}' })).toThrow(/PRICING_JSON/);
  });
});
