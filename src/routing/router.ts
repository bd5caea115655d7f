import type { RedisClient } from '../redis/client.js';
import type { InvalidationBus } from '../cache/bus.js';
import { redisKeys } from '../redis/keys.js';
import type { DeploymentEntry, GroupEntry } from './table.js';

/**
 * Which deployment of a group an attempt tries, in what order: those not cooling down, weighted
 * at random (`weighted`) or fewest calls in flight per unit of weight first, then most headroom
 * of the account's RPM/TPM (`least-busy`). A
 * choice is made in memory; cooldowns are shared by every worker through Redis (a key whose TTL
 * is the cooldown, read when a table loads) and the bus (each new one, as it happens).
 */
export class DeploymentChooser {
  readonly #cooling = new Map<string, number>();
  readonly #inFlight = new Map<string, number>();

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly bus?: InvalidationBus,
    /** How full a deployment's RPM/TPM is, 0 to 1 (`OutboundLimits.usage`). */
    private readonly usage: (name: string) => number = () => 0,
    private readonly random = Math.random,
  ) {
    bus?.on((msg) => {
      if (msg.kind === 'cooldown') this.#cooling.set(msg.deployment, msg.until);
    });
  }

  /** Reads the cooldowns in force for these deployments (a worker that starts learns those set before it). */
  async load(names: string[]): Promise<void> {
    if (!names.length) return;
    const keys = redisKeys(this.prefix);
    const ttl = await Promise.all(names.map((n) => this.redis.pttl(keys.routeCool(n))));
    names.forEach((n, i) => {
      const ms = Number(ttl[i]);
      if (ms > 0) this.#cooling.set(n, Date.now() + ms);
    });
  }

  /** When the deployment's cooldown ends (epoch ms), or 0 when it is not cooling. */
  coolingUntil(name: string): number {
    const until = this.#cooling.get(name) ?? 0;
    if (until && until <= Date.now()) this.#cooling.delete(name);
    return until > Date.now() ? until : 0;
  }

  /** Leaves the deployment out of every group for `ms`, in every worker. */
  async cool(name: string, ms: number): Promise<void> {
    const until = Date.now() + ms;
    if (until <= (this.#cooling.get(name) ?? 0)) return;
    this.#cooling.set(name, until);
    await Promise.all([
      this.redis.set(redisKeys(this.prefix).routeCool(name), String(until), 'PX', ms).catch(() => {}),
      this.bus?.publish({ kind: 'cooldown', deployment: name, until }).catch(() => {}),
    ]);
  }

  /** The group's deployments an attempt may try, in the order it tries them, and those cooling down. */
  order(g: GroupEntry): { ready: DeploymentEntry[]; cooling: DeploymentEntry[] } {
    const ready = g.deployments.filter((d) => !this.coolingUntil(d.def.name));
    const cooling = g.deployments.filter((d) => this.coolingUntil(d.def.name));
    if (g.strategy === 'least-busy') {
      const load = (d: DeploymentEntry) => (this.#inFlight.get(d.def.name) ?? 0) / d.weight;
      const ranked = ready.map((d) => [d, load(d), this.usage(d.def.name), this.random()] as const);
      return { ready: ranked.sort((a, b) => a[1] - b[1] || a[2] - b[2] || a[3] - b[3]).map(([d]) => d), cooling };
    }
    // A weighted draw without replacement: the first is picked in proportion to its weight, then the next among the rest.
    const left = [...ready];
    const out: DeploymentEntry[] = [];
    while (left.length) {
      let r = this.random() * left.reduce((s, d) => s + d.weight, 0);
      const i = Math.max(0, left.findIndex((d) => (r -= d.weight) < 0));
      out.push(...left.splice(i === -1 ? left.length - 1 : i, 1));
    }
    return { ready: out, cooling };
  }

  /** Counts a call in flight to `name` until the returned function is called. */
  begin(name: string): () => void {
    this.#inFlight.set(name, (this.#inFlight.get(name) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#inFlight.set(name, (this.#inFlight.get(name) ?? 1) - 1);
    };
  }

  inFlight(name: string): number {
    return this.#inFlight.get(name) ?? 0;
  }
}
