import { readFile } from 'node:fs/promises';
import type { RedisClient } from '../redis/client.js';
import type { Logger } from 'pino';
import type { InvalidationBus } from '../cache/bus.js';
import { ConfigError, type Config } from '../config/index.js';
import type { Db } from '../db/client.js';
import { CAPABILITIES } from '../llm/capabilities.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { ProviderDefinition } from '../providers/types.js';
import { checkDocument } from './check.js';
import type { RoutingDocument } from './document.js';
import { GroupProvider } from './group-provider.js';
import { DeploymentHealth } from './health.js';
import { OutboundLimits } from './outbound.js';
import { parseRouting, shapeProblem } from './parse.js';
import { DeploymentChooser } from './router.js';
import { RoutingStore } from './store.js';
import { RoutingTable, type ClientCache } from './table.js';

export interface RoutingDeps {
  config: Config;
  registry: ProviderRegistry;
  db: Db;
  redis: RedisClient;
  bus: InvalidationBus;
  log: Logger;
}

/** A routing document that cannot be put in force: the problems, one line each. */
export class RoutingProblems extends Error {
  override name = 'RoutingProblems';
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
}

/**
 * The routing document in force in this process: loaded at boot (ROUTES_FILE, stored as a new
 * version when it differs from the one in force; then the last version from Postgres), changed
 * by `put` (a new version, every process told over the bus), reloaded whenever the bus says so
 * or reconnects. Its model groups are served by one pseudo-provider, `group`, registered in the
 * provider registry: admission, allow-lists (`group/<name>`), prices and the worker find them
 * there like any other provider's models.
 */
export class Routing {
  readonly store: RoutingStore;
  readonly chooser: DeploymentChooser;
  readonly outbound: OutboundLimits;
  readonly health: DeploymentHealth;
  readonly provider: GroupProvider;
  readonly #clients: ClientCache = new Map();
  #table: RoutingTable | undefined;
  #reloading: Promise<void> | undefined;
  #retry: NodeJS.Timeout | undefined;

  constructor(private readonly deps: RoutingDeps) {
    const { config, redis, bus, log } = deps;
    this.store = new RoutingStore(deps.db);
    this.outbound = new OutboundLimits(redis, config.REDIS_PREFIX);
    this.chooser = new DeploymentChooser(redis, config.REDIS_PREFIX, bus, (name) => this.outbound.usage(name));
    this.health = new DeploymentHealth(redis, config.REDIS_PREFIX);
    this.provider = new GroupProvider({ table: () => this.#table, chooser: this.chooser, outbound: this.outbound, health: this.health, log });
    bus.on((msg) => {
      if (msg.kind === 'routes' || msg.kind === 'all') void this.reload().catch((err: unknown) => log.error({ err: String(err) }, 'routing document not reloaded'));
    });
  }

  get table(): RoutingTable | undefined {
    return this.#table;
  }

  /** The problems of a document, one line each (none: it can be put in force). */
  async problems(doc: unknown): Promise<string[]> {
    const shape = shapeProblem(doc);
    if (shape) return [`routes ${shape.pointer || '(root)'} ${shape.message}`];
    return checkDocument(doc as RoutingDocument, { env: this.deps.config.env ?? {}, allowPrivate: this.deps.config.PROVIDERS_ALLOW_PRIVATE });
  }

  /**
   * At boot: ROUTES_FILE (a ConfigError naming its one problem stops the boot), kept as a version,
   * then the version in force. Postgres unreachable is not a reason to stop: the process starts
   * without groups (a group's name is then a 400 `unknown_model`) and tries again every 2 s.
   */
  async boot(): Promise<void> {
    const file = this.deps.config.ROUTES_FILE;
    let doc: RoutingDocument | undefined;
    if (file) {
      const text = await readFile(file, 'utf8').catch((err: Error) => {
        throw new ConfigError(`ROUTES_FILE ${file}: ${err.message}`);
      });
      const parsed = parseRouting(text, `ROUTES_FILE ${file}`);
      if ('problem' in parsed) throw new ConfigError(parsed.problem);
      const problems = await this.problems(parsed.doc);
      if (problems.length) throw new ConfigError(`ROUTES_FILE ${file}: ${problems[0]}`);
      doc = parsed.doc;
    }
    const attempt = async (): Promise<void> => {
      if (doc) await this.store.put(doc, 'file', null);
      await this.reload();
    };
    await attempt().catch((err: unknown) => {
      if (err instanceof ConfigError) throw err;
      this.deps.log.warn({ err: String(err) }, 'routing document not read (Postgres?): retrying every 2 s');
      const retry = () => {
        this.#retry = setTimeout(() => void attempt().then(() => (this.#retry = undefined), retry), 2000).unref();
      };
      retry();
    });
  }

  /** Stops retrying a boot that could not read Postgres. */
  close(): void {
    clearTimeout(this.#retry);
  }

  /** Puts a document in force (checked first: RoutingProblems otherwise); resolves to its version. */
  async put(doc: RoutingDocument, createdBy: string): Promise<number> {
    const problems = await this.problems(doc);
    if (problems.length) throw new RoutingProblems(problems);
    const version = await this.store.put(doc, 'api', createdBy);
    await this.deps.bus.publish({ kind: 'routes' });
    await this.reload();
    return version;
  }

  /** Loads the version in force when it is not the one this process has; one load at a time. */
  reload(): Promise<void> {
    this.#reloading ??= this.#load().finally(() => (this.#reloading = undefined));
    return this.#reloading;
  }

  async #load(): Promise<void> {
    const row = await this.store.latest();
    if (!row || row.version === this.#table?.version) return;
    const problems = await this.problems(row.document);
    if (problems.length) {
      // Stored by a process that could check it (its environment had the keys): this one cannot serve it.
      this.deps.log.error({ version: row.version, problem: problems[0] }, 'routing document version not loaded here; keeping the one in force');
      if (!this.#table) throw new ConfigError(`routing document version ${row.version}: ${problems[0]}`);
      return;
    }
    const table = new RoutingTable(row.document, row.version, this.deps.config, this.deps.registry, this.#clients);
    await this.chooser.load(table.deployments().map(([name]) => name)).catch(() => {});
    this.#table = table;
    this.deps.registry.register(this.#definition());
    this.deps.log.info({ version: row.version, groups: table.names().length }, 'routing document loaded');
  }

  /** The `group` pseudo-provider: the model groups of the table in force. */
  #definition(): ProviderDefinition {
    const table = () => this.#table;
    return {
      name: 'group', defaultModel: '', configVariables: ['ROUTES_FILE'], dialect: 'none', capabilities: [...CAPABILITIES],
      modelPrefixes: [], prices: {}, allowsUnpriced: true,
      lists: (model) => table()?.names().includes(model) ?? false,
      listed: () => table()?.names() ?? [],
      price: (model) => table()?.worstPrice(model),
      allows: (model, projectId) => table()?.allows(model, projectId) ?? false,
      unsupported: (r) => table()?.unsupported(r),
      enabled: () => (table()?.names().length ?? 0) > 0,
      create: () => this.provider,
    };
  }
}
