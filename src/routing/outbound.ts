import type { RedisClient } from '../redis/client.js';
import { redisKeys } from '../redis/keys.js';
import { TokenWindows } from '../ratelimit/token-windows.js';
import type { Deployment } from './document.js';

/** One minute: the window of a deployment's RPM and TPM. */
export const OUTBOUND_WINDOW_MS = 60_000;

/** What a call holds in its deployment's windows, to reconcile once it answered. */
export interface OutboundHold {
  deployment: string;
  id: string;
  /** Tokens held in the TPM window; 0 when the deployment has no TPM. */
  tokens: number;
}

/** A reservation: held, or refused until `retryAtMs` (epoch ms, Redis's clock). */
export type Reservation = { held: OutboundHold } | { retryAtMs: number };

/**
 * The upstream accounts' own limits, on the way out, across every worker: a deployment's RPM and
 * TPM are exact sliding windows in Redis (`tokenWindow-n.lua`, the script of the inbound token
 * limit), so a call is only sent when its account can take it. A call reserves 1 request and its
 * worst-case tokens before it is sent; once it ended, both move to that moment and the tokens
 * become what the provider reported.
 */
export class OutboundLimits {
  /** The share of its RPM or TPM (the fuller) each deployment had in use at its last reservation, all workers' calls included. */
  readonly #usage = new Map<string, number>();

  readonly #windows: TokenWindows;

  constructor(redis: RedisClient, private readonly prefix: string) {
    this.#windows = new TokenWindows(redis);
  }

  #window(d: Deployment, limit: 'rpm' | 'tpm') {
    return redisKeys(this.prefix).routeWindow(d.name, limit);
  }

  /** Reserves one request and `tokens` in the deployment's windows (nothing when it declares no limits). */
  async reserve(d: Deployment, id: string, tokens: number): Promise<Reservation> {
    const held: OutboundHold = { deployment: d.name, id, tokens: d.tpm ? Math.min(tokens, d.tpm) : 0 };
    if (d.rpm) {
      const [status, total, , retryAtMs] = await this.#windows.run(this.#window(d, 'rpm'), 'reserve', OUTBOUND_WINDOW_MS, id, 1, d.rpm);
      this.#usage.set(d.name, total! / d.rpm);
      if (status !== 1) return { retryAtMs: retryAtMs! };
    }
    if (d.tpm) {
      const [status, total, , retryAtMs] = await this.#windows.run(this.#window(d, 'tpm'), 'reserve', OUTBOUND_WINDOW_MS, id, held.tokens, d.tpm);
      this.#usage.set(d.name, Math.max(this.#usage.get(d.name) ?? 0, total! / d.tpm));
      if (status !== 1) {
        if (d.rpm) await this.#windows.run(this.#window(d, 'rpm'), 'release', OUTBOUND_WINDOW_MS, id, 0, 0);
        return { retryAtMs: retryAtMs! };
      }
    }
    return { held };
  }

  /** How full the deployment's account was at its last reservation from this process, 0 to 1 (0 when unknown or unlimited): least-busy prefers headroom. */
  usage(name: string): number {
    return this.#usage.get(name) ?? 0;
  }

  /**
   * Once the call has ended (answered or failed): its request, and its tokens (what the provider
   * reported, else the estimate), move to now in the windows. They count until a window after the
   * call ended, so the upstream, counting from when the call reached it, never sees more than the
   * account's limit in any window, however late the call left after its reservation.
   */
  async settle(d: Deployment, hold: OutboundHold, used?: number): Promise<void> {
    const id = hold.id;
    await Promise.all([
      d.rpm ? this.#windows.run(this.#window(d, 'rpm'), 'settle', OUTBOUND_WINDOW_MS, id, 0, 0) : undefined,
      d.tpm && hold.tokens ? this.#windows.run(this.#window(d, 'tpm'), 'settle', OUTBOUND_WINDOW_MS, id, used ?? 0, 0) : undefined,
    ]);
  }
}
