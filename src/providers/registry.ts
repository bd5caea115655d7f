import type { Config } from '../config/index.js';
import { anthropicDefinition } from './anthropic.js';
import { fakeDefinition } from './fake.js';
import { compatibleDefinition } from './openai-compatible.js';
import { openaiDefinition } from './openai.js';
import { pricingOf, type ModelPrice } from './pricing.js';
import type { ProviderErrorMapping } from './errors.js';
import type { Provider } from './types.js';

/**
 * Everything PromptLab knows about one provider, declared once in its own file. Config,
 * route validation, the API's admission checks and the worker all derive from these.
 */
export interface ProviderDefinition {
  /** Lowercase; what requests, templates, `PRICING_JSON`, `DEFAULT_PROVIDER` and the model lists use. */
  readonly name: string;
  /** The model used when neither the request nor the template names one. */
  readonly defaultModel: string;
  /** The environment variables it reads (documentation and boot messages). */
  readonly configVariables: readonly string[];
  /** The wire format its SDK speaks; `none` for a provider with no SDK. */
  readonly dialect: 'anthropic' | 'openai' | 'none';
  /**
   * How its SDK's errors read in the one retry table (`errors.ts`); none for a provider that
   * throws `ProviderError`s itself.
   */
  readonly errors?: ProviderErrorMapping;
  /**
   * Model names it serves by prefix, for routes that get a model without a provider
   * (`/v1/chat/completions`, `/v1/messages`; see `routeModel`). Its priced models are served too.
   */
  readonly modelPrefixes: readonly string[];
  /** List prices by model, USD per million tokens (`PRICING_JSON` overrides them). */
  readonly prices: Readonly<Record<string, ModelPrice>>;
  /** Whether this deployment can call it (its key or base URL is configured). */
  enabled(config: Config): boolean;
  /** The SDK client factory: one `Provider` for the process. */
  create(config: Config): Provider;
}

/** The providers that exist without configuration, in `DEFAULT_PROVIDER`'s fallback order. */
export const BUILT_IN_PROVIDERS: readonly ProviderDefinition[] = [anthropicDefinition, openaiDefinition, fakeDefinition];

/** The providers of one config: the built-ins, then the `PROVIDERS_JSON` ones. */
export class ProviderRegistry {
  readonly #byName: ReadonlyMap<string, ProviderDefinition>;

  constructor(private readonly config: Config) {
    const compatible = (config.compatibleProviders ?? []).map(compatibleDefinition);
    this.#byName = new Map([...BUILT_IN_PROVIDERS, ...compatible].map((d) => [d.name, d]));
  }

  /** Every provider name, configured or not. */
  get names(): string[] {
    return [...this.#byName.keys()];
  }

  /** The definition of `name`; undefined when the registry has none. */
  get(name: string): ProviderDefinition | undefined {
    return this.#byName.get(name);
  }

  /** Whether `name` is a provider at all (a template may name one this server has no key for). */
  has(name: string): boolean {
    return this.#byName.has(name);
  }

  /** Whether this deployment can call `name`. */
  isEnabled(name: string): boolean {
    return this.#byName.get(name)?.enabled(this.config) ?? false;
  }

  /** DEFAULT_PROVIDER, else the first enabled built-in (anthropic, openai, fake). */
  get defaultProvider(): string {
    return this.config.DEFAULT_PROVIDER ?? BUILT_IN_PROVIDERS.find((d) => d.enabled(this.config))!.name;
  }

  /** The default model of `name` (which must be in the registry). */
  defaultModel(name: string): string {
    const d = this.#byName.get(name);
    if (!d) throw new Error(`no provider ${name} in the registry`);
    return d.defaultModel;
  }

  /**
   * The provider a bare model name belongs to: `provider/model` names it explicitly; else a
   * `PROVIDERS_JSON` provider that lists the model; else the built-in whose prefixes match
   * (`claude-*` anthropic; `gpt-*`, `o1*`, `o3*`, `o4*`, `chatgpt-*` openai; `fake-*` fake).
   * Undefined when none does.
   */
  routeModel(name: string): { provider: string; model: string } | undefined {
    const slash = name.indexOf('/');
    if (slash > 0 && this.#byName.has(name.slice(0, slash)) && slash < name.length - 1) {
      return { provider: name.slice(0, slash), model: name.slice(slash + 1) };
    }
    const defs = [...this.#byName.values()];
    const listed = defs.find((d) => !BUILT_IN_PROVIDERS.includes(d) && Object.hasOwn(d.prices, name));
    const owner = listed ?? defs.find((d) => d.modelPrefixes.some((p) => name.startsWith(p)));
    return owner && { provider: owner.name, model: name };
  }

  /** The enabled providers' priced models (their table and `PRICING_JSON`), by provider: what `GET /v1/models` lists. */
  models(): { provider: string; model: string }[] {
    const overrides = pricingOf(this.config);
    return [...this.#byName.values()]
      .filter((d) => d.enabled(this.config))
      .flatMap((d) => [...new Set([...Object.keys(d.prices), ...Object.keys(overrides?.[d.name] ?? {})])].map((model) => ({ provider: d.name, model })));
  }

  /**
   * What a person should try instead of a model that does not answer here: the enabled
   * providers' model families (`fake-*` on a fresh start) and up to ten listed models.
   */
  answeringModels(): string {
    const live = [...this.#byName.values()].filter((d) => d.enabled(this.config));
    const families = live.flatMap((d) => d.modelPrefixes.map((p) => `${p}*`));
    const listed = this.models().slice(0, 10).map(({ provider, model }) => (this.routeModel(model)?.provider === provider ? model : `${provider}/${model}`));
    return `models that answer here: ${[...new Set([...listed, ...families])].join(', ')} (GET /v1/models lists them)`;
  }

  /** One SDK client per enabled provider, by name. */
  createProviders(): Record<string, Provider> {
    const out: Record<string, Provider> = {};
    for (const d of this.#byName.values()) if (d.enabled(this.config)) out[d.name] = d.create(this.config);
    return out;
  }
}

const registries = new WeakMap<Config, ProviderRegistry>();

/** The registry of `config`, built once per config object. */
export function registryOf(config: Config): ProviderRegistry {
  let r = registries.get(config);
  if (!r) registries.set(config, (r = new ProviderRegistry(config)));
  return r;
}
