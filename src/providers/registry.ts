import { ConfigError, type Config } from '../config/index.js';
import type { ModelPrice } from '../llm/price.js';
import { BUILT_IN_PROVIDERS } from './built-in.js';
import { compatibleDefinition } from './openai-compatible/index.js';
import { priceFor, pricingOf, type PricingOverrides } from './prices.js';
import type { Provider, ProviderDefinition } from './types.js';

/**
 * The providers of one deployment: the built-ins, then the `PROVIDERS_JSON` ones. Built once at
 * boot and handed to whoever needs it (a service, not a lookup by config); building it checks
 * what the config alone cannot: `PROVIDERS_JSON` names that clash with a built-in,
 * `DEFAULT_PROVIDER` and `PRICING_JSON` naming providers that do not exist (a ConfigError naming
 * the variable, as `loadConfig`'s).
 */
export class ProviderRegistry {
  readonly #clients = new Map<string, Provider>();
  readonly #byName: Map<string, ProviderDefinition>;
  readonly #builtIn: ReadonlySet<ProviderDefinition>;
  readonly #overrides: PricingOverrides | undefined;

  constructor(private readonly config: Config, builtIn: readonly ProviderDefinition[] = BUILT_IN_PROVIDERS) {
    const builtInNames = builtIn.map((d) => d.name);
    const problems: string[] = [];
    for (const [i, p] of (config.compatibleProviders ?? []).entries()) {
      if (builtInNames.includes(p.name)) problems.push(`PROVIDERS_JSON /${i}/name "${p.name}" is a built-in provider (${builtInNames.join(', ')})`);
      if (p.name === 'group') problems.push(`PROVIDERS_JSON /${i}/name "group" is reserved for the routing document's model groups`);
    }
    const compatible = (config.compatibleProviders ?? []).filter((p) => !builtInNames.includes(p.name)).map(compatibleDefinition);
    this.#builtIn = new Set(builtIn);
    this.#byName = new Map([...builtIn, ...compatible].map((d) => [d.name, d]));
    const names = [...this.#byName.keys()];
    if (config.DEFAULT_PROVIDER !== undefined && !this.#byName.has(config.DEFAULT_PROVIDER)) {
      problems.push(`DEFAULT_PROVIDER=${JSON.stringify(config.DEFAULT_PROVIDER)}: not a provider (known: ${names.join(', ')})`);
    }
    this.#overrides = pricingOf(config);
    const unknown = Object.keys(this.#overrides ?? {}).find((p) => !this.#byName.has(p));
    if (unknown !== undefined) problems.push(`PRICING_JSON names unknown provider ${JSON.stringify(unknown)} (known: ${names.join(', ')})`);
    if (problems.length) throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }

  /**
   * Adds or replaces a provider known only at run time (the model groups of the routing document,
   * which `PUT /v1/routes` can change): it routes the names it lists, ahead of every prefix.
   */
  register(def: ProviderDefinition): void {
    this.#byName.set(def.name, def);
    this.#clients.delete(def.name);
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
    return this.config.DEFAULT_PROVIDER ?? [...this.#builtIn].find((d) => d.enabled(this.config))!.name;
  }

  /** The default model of `name` (which must be in the registry). */
  defaultModel(name: string): string {
    const d = this.#byName.get(name);
    if (!d) throw new Error(`no provider ${name} in the registry`);
    return d.defaultModel;
  }

  /**
   * The price of `model` on `provider`, the one price both the API (admission) and the worker
   * (each attempt's cost) use: the provider's table with `PROVIDERS_JSON` and `PRICING_JSON` on
   * top, an exact name first, then the longest prefix (see `priceFor`).
   */
  price(provider: string, model: string): ModelPrice | undefined {
    const def = this.#byName.get(provider);
    return def?.price ? def.price(model) : priceFor(provider, model, this.#overrides);
  }

  /** The prices on top of the built-in tables (`PROVIDERS_JSON`, `PRICING_JSON`), parsed once. */
  get overrides(): PricingOverrides | undefined {
    return this.#overrides;
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
    const listed = defs.find((d) => d.lists?.(name) && d.enabled(this.config)) ?? defs.find((d) => !this.#builtIn.has(d) && Object.hasOwn(d.prices, name));
    const owner = listed ?? defs.find((d) => d.modelPrefixes.some((p) => name.startsWith(p)));
    return owner && { provider: owner.name, model: name };
  }

  /** The enabled providers' priced models (their table and `PRICING_JSON`), by provider: what `GET /v1/models` lists. */
  models(): { provider: string; model: string }[] {
    return [...this.#byName.values()]
      .filter((d) => d.enabled(this.config))
      .flatMap((d) => [...new Set([...Object.keys(d.prices), ...Object.keys(this.#overrides?.[d.name] ?? {}), ...(d.listed?.() ?? [])])].map((model) => ({ provider: d.name, model })));
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

  /** This process's one client of provider `name`, made on first use, for calls the API makes itself (token counting); none when it is not enabled here. */
  client(name: string): Provider | undefined {
    if (!this.isEnabled(name)) return undefined;
    let c = this.#clients.get(name);
    if (!c) {
      c = this.get(name)!.create(this.config);
      this.#clients.set(name, c);
    }
    return c;
  }

  /** One SDK client per enabled provider, by name. */
  createProviders(): Record<string, Provider> {
    const out: Record<string, Provider> = {};
    for (const d of this.#byName.values()) if (d.enabled(this.config)) out[d.name] = d.create(this.config);
    return out;
  }
}
