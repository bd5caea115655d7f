import type { Config } from '../config/index.js';
import type { ModelPrice } from '../llm/price.js';
import type { GenerationRequest } from '../llm/request.js';
import { anthropicUnsupported } from '../providers/anthropic/wire.js';
import { createAnthropicProvider } from '../providers/anthropic/index.js';
import { createFakeProvider } from '../providers/fake/index.js';
import { createOpenAIProvider } from '../providers/openai/index.js';
import { openaiUnsupported } from '../providers/openai/wire.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { Provider } from '../providers/types.js';
import type { Deployment, Group, RoutingDocument } from './document.js';

/** One deployment as the router uses it: its declaration, its price, its client (made on first use). */
export interface DeploymentEntry {
  readonly def: Deployment;
  readonly weight: number;
  /** Its price, or its provider's for its model; undefined when neither is known. */
  readonly price: ModelPrice | undefined;
  client(): Provider;
  /** What of a request its wire format cannot carry (see `ProviderDefinition.unsupported`). */
  unsupported(r: GenerationRequest): string | undefined;
}

/** One model group as the router uses it. */
export interface GroupEntry {
  readonly name: string;
  readonly deployments: readonly DeploymentEntry[];
  readonly strategy: 'weighted' | 'least-busy';
  readonly fallbacks: readonly string[];
  readonly contextFallback?: string;
  readonly cooldownMs: number;
}

const BUILT_IN_KIND: Partial<Record<Deployment['provider'], string>> = { openai: 'openai', anthropic: 'anthropic', fake: 'fake' };

/** Clients are kept across reloads while their deployment is unchanged (same declaration, same key). */
export type ClientCache = Map<string, Provider>;

/**
 * A routing document resolved: deployments with prices and clients, groups, and each project's
 * view (its own deployments, its re-mapped groups, what it may use). Immutable; a new document
 * makes a new table.
 */
export class RoutingTable {
  readonly #groups = new Map<string, GroupEntry>();
  readonly #projects = new Map<string, { groups: Map<string, GroupEntry>; allow?: Set<string> }>();
  readonly #deployments = new Map<string, DeploymentEntry>();

  constructor(readonly doc: RoutingDocument, readonly version: number, config: Config, registry: ProviderRegistry, clients: ClientCache) {
    const env = config.env ?? {};
    const entry = (d: Deployment): DeploymentEntry => {
      const key = d.apiKeyEnv ? env[d.apiKeyEnv] : undefined;
      const cacheKey = JSON.stringify([d, key ?? null]);
      const kind = BUILT_IN_KIND[d.provider];
      const make = (): Provider => {
        const timeoutMs = d.timeoutMs ?? config.PROVIDER_TIMEOUT_MS;
        if (d.provider === 'anthropic') return createAnthropicProvider({ apiKey: key ?? '', timeoutMs, ...(d.baseUrl ? { baseURL: d.baseUrl } : {}) });
        if (d.provider === 'fake') return createFakeProvider({ latencyMs: d.latencyMs ?? config.FAKE_LATENCY_MS });
        return createOpenAIProvider({ name: d.name, timeoutMs, ...(key ? { apiKey: key } : {}), ...(d.baseUrl ? { baseURL: d.baseUrl } : {}) });
      };
      return {
        def: d,
        weight: d.weight ?? 1,
        price: d.price
          ? { inputPerMTok: d.price.input, outputPerMTok: d.price.output, ...(d.price.cacheRead !== undefined ? { cacheReadPerMTok: d.price.cacheRead } : {}), ...(d.price.cacheWrite !== undefined ? { cacheWritePerMTok: d.price.cacheWrite } : {}) }
          : kind ? registry.price(kind, d.model) : undefined,
        client: () => {
          let c = clients.get(cacheKey);
          if (!c) clients.set(cacheKey, (c = make()));
          return c;
        },
        unsupported: (r) => (d.provider === 'anthropic' ? anthropicUnsupported(r) : d.provider === 'fake' ? undefined : openaiUnsupported(r)),
      };
    };
    const group = (g: Group, deployments: Map<string, DeploymentEntry>): GroupEntry => ({
      name: g.name,
      deployments: g.deployments.map((n) => deployments.get(n)!),
      strategy: g.strategy ?? 'weighted',
      fallbacks: g.fallbacks ?? [],
      ...(g.contextFallback ? { contextFallback: g.contextFallback } : {}),
      cooldownMs: g.cooldownMs ?? config.ROUTE_COOLDOWN_MS,
    });
    for (const d of doc.deployments) this.#deployments.set(d.name, entry(d));
    for (const g of doc.groups) this.#groups.set(g.name, group(g, this.#deployments));
    for (const p of doc.projects ?? []) {
      const visible = new Map(this.#deployments);
      for (const d of p.deployments ?? []) {
        const e = entry(d);
        visible.set(d.name, e);
        this.#deployments.set(`${p.project}/${d.name}`, e);
      }
      this.#projects.set(p.project, {
        groups: new Map((p.groups ?? []).map((g) => [g.name, group(g, visible)])),
        ...(p.allow ? { allow: new Set(p.allow) } : {}),
      });
    }
  }

  /** The group `name` as project `projectId` sees it (its own re-map first). */
  group(name: string, projectId?: string): GroupEntry | undefined {
    return (projectId ? this.#projects.get(projectId)?.groups.get(name) : undefined) ?? this.#groups.get(name);
  }

  /** Every group name any project can route to: what model names the group pseudo-provider serves. */
  names(): string[] {
    return [...new Set([...this.#groups.keys(), ...[...this.#projects.values()].flatMap((p) => [...p.groups.keys()])])];
  }

  /** Whether project `projectId` may use the group `name` (its `allow` list, when it has one, and a group it can see). */
  allows(name: string, projectId: string): boolean {
    const p = this.#projects.get(projectId);
    if (p?.allow && !p.allow.has(name)) return false;
    return this.group(name, projectId) !== undefined;
  }

  /** Every deployment, global and projects' (`project/name`), for health. */
  deployments(): [string, DeploymentEntry][] {
    return [...this.#deployments];
  }

  /**
   * The most one call of group `name` can cost, for the holds at admission: the highest price among
   * the deployments it and its fallbacks (transitively, in any project's view) can reach; undefined
   * when one of them has none (the group is then unpriced).
   */
  worstPrice(name: string): ModelPrice | undefined {
    const seen = new Set<string>();
    const prices: (ModelPrice | undefined)[] = [];
    const walk = (g: GroupEntry | undefined) => {
      if (!g || seen.has(`${g.name}`)) return;
      seen.add(g.name);
      prices.push(...g.deployments.map((d) => d.price));
      for (const f of [...g.fallbacks, ...(g.contextFallback ? [g.contextFallback] : [])]) walk(this.#groups.get(f));
    };
    walk(this.#groups.get(name));
    for (const p of this.#projects.values()) {
      const g = p.groups.get(name);
      if (g) {
        seen.delete(name);
        walk(g);
      }
    }
    if (!prices.length || prices.some((p) => p === undefined)) return undefined;
    const max = (f: (p: ModelPrice) => number | undefined) => Math.max(...prices.map((p) => f(p!) ?? p!.inputPerMTok));
    return { inputPerMTok: max((p) => p.inputPerMTok), outputPerMTok: max((p) => p.outputPerMTok), cacheReadPerMTok: max((p) => p.cacheReadPerMTok), cacheWritePerMTok: max((p) => p.cacheWritePerMTok) };
  }

  /** What of a request some deployment of the group cannot take (every one must, as any may serve it). */
  unsupported(r: GenerationRequest, projectId?: string): string | undefined {
    const g = this.group(r.model, projectId);
    for (const d of g?.deployments ?? []) {
      const what = d.unsupported(r);
      if (what) return `${what} (deployment ${d.def.name})`;
    }
    return undefined;
  }
}
