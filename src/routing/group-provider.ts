import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { worstCaseTokens } from '../llm/estimate.js';
import type { GenerationResult, RouteStep, StreamDelta } from '../llm/result.js';
import { ProviderError, toProviderError } from '../providers/errors.js';
import type { Provider, ProviderCall } from '../providers/types.js';
import type { CallOutcome, DeploymentHealth } from './health.js';
import type { OutboundLimits } from './outbound.js';
import type { DeploymentChooser } from './router.js';
import type { DeploymentEntry, GroupEntry, RoutingTable } from './table.js';

/**
 * No deployment of the group (nor of its fallbacks) could take the call now: all cooling down or
 * out of their accounts' RPM/TPM. The worker puts the job back in the queue until `untilMs` (BullMQ
 * delayed), without spending an attempt; nothing was sent.
 */
export class WaitForCapacity extends Error {
  override name = 'WaitForCapacity';
  constructor(readonly untilMs: number) {
    super(`no deployment can take the call before ${new Date(untilMs).toISOString()}`);
  }
}

export interface GroupProviderDeps {
  table: () => RoutingTable | undefined;
  chooser: DeploymentChooser;
  outbound: OutboundLimits;
  health: DeploymentHealth;
  log: Logger;
}

/** How a failure of one deployment reads for routing: move on (and cool it down), move to the long-context group, or stop. */
function verdict(err: ProviderError): { outcome: CallOutcome; move: 'next' | 'context' | 'stop' } {
  if (err.code === 'provider_context_length') return { outcome: 'context', move: 'context' };
  if (err.code === 'provider_aborted') return { outcome: 'error', move: 'stop' };
  if (err.status === 429 || err.code === 'provider_rate_limited') return { outcome: '429', move: 'next' };
  if (err.code === 'provider_timeout') return { outcome: 'timeout', move: 'next' };
  if (err.retryable) return { outcome: '5xx', move: 'next' };
  return { outcome: 'error', move: 'stop' };
}

/**
 * The provider of model groups (`group/<name>`): each attempt tries the group's deployments in
 * the chooser's order, skipping those cooling down or out of capacity, then its fallback groups
 * in order. A deployment that answers 429, 5xx or times out is cooled down (for its Retry-After,
 * else the group's cooldown) in every worker, and the attempt moves on at once; a context-window
 * error moves to the group's `contextFallback`; any other error ends the attempt (it is the
 * request's, not the deployment's). A streamed call moves on only before its first piece: after
 * it, the attempt fails as any other would. Exactly one deployment answers an attempt, and an
 * attempt runs only while it holds its row's claim: failing over never pays twice for an answer.
 */
export class GroupProvider implements Provider {
  readonly name = 'group';

  constructor(private readonly deps: GroupProviderDeps) {}

  generate(call: ProviderCall): Promise<GenerationResult> {
    return this.#run(call, (p, c) => p.generate(c));
  }

  stream(call: ProviderCall, onDelta: (d: StreamDelta) => void): Promise<GenerationResult> {
    return this.#run(call, (p, c, started) => (p.stream ? p.stream(c, (d) => (started(), onDelta(d))) : p.generate(c)));
  }

  embed(call: ProviderCall): Promise<GenerationResult> {
    return this.#run(call, (p, c) => {
      if (!p.embed) throw new ProviderError('provider_bad_request', `${p.name} does not embed`, { retryable: false });
      return p.embed(c);
    });
  }

  async #run(call: ProviderCall, send: (p: Provider, c: ProviderCall, started: () => void) => Promise<GenerationResult>): Promise<GenerationResult> {
    const table = this.deps.table();
    const first = table?.group(call.model, call.projectId);
    if (!table || !first) throw new ProviderError('provider_not_found', `no model group ${call.model}`, { retryable: false });
    const { chooser, outbound, health } = this.deps;
    const estimate = worstCaseTokens(call);
    const tokens = estimate.inputTokens + estimate.outputTokens;
    const note = (g: GroupEntry, d: DeploymentEntry, outcome: string, code?: string) => {
      const step: RouteStep = { deployment: d.def.name, group: g.name, outcome, at: Date.now(), ...(code ? { code } : {}) };
      call.onStep?.(step);
    };
    let waitUntil = Infinity;
    let lastError: ProviderError | undefined;
    let streamed = false;
    const queue: GroupEntry[] = [first];
    const seen = new Set<string>();
    while (queue.length) {
      const g = queue.shift()!;
      if (seen.has(g.name)) continue;
      seen.add(g.name);
      const { ready, cooling } = chooser.order(g);
      for (const d of cooling) waitUntil = Math.min(waitUntil, chooser.coolingUntil(d.def.name) || Date.now());
      let contextFallback = false;
      for (const d of ready) {
        const reservation = await outbound.reserve(d.def, `${call.jobId ?? 'call'}:${randomUUID()}`, tokens);
        if ('retryAtMs' in reservation) {
          waitUntil = Math.min(waitUntil, reservation.retryAtMs);
          health.failover(d.def.name, 'no_capacity');
          continue;
        }
        const done = chooser.begin(d.def.name);
        const start = performance.now();
        let used: number | undefined;
        try {
          const res = await send(d.client(), { ...call, model: d.def.model }, () => (streamed = true));
          health.record(d.def.name, 'ok', performance.now() - start);
          used = res.inputTokens + res.outputTokens;
          return { ...res, servedBy: { deployment: d.def.name, ...(d.price ? { price: d.price } : {}) } };
        } catch (thrown) {
          const err = toProviderError(thrown);
          const v = verdict(err);
          health.record(d.def.name, v.outcome, performance.now() - start);
          if (streamed || v.move === 'stop') throw err;
          lastError = err;
          note(g, d, v.outcome, err.code);
          health.failover(d.def.name, v.outcome);
          if (v.move === 'context') {
            contextFallback = true;
            break;
          }
          await chooser.cool(d.def.name, err.retryAfterMs ?? g.cooldownMs);
        } finally {
          done();
          await outbound.settle(d.def, reservation.held, used).catch(() => {});
        }
      }
      const next = contextFallback ? (g.contextFallback ? [g.contextFallback] : []) : g.fallbacks;
      if (contextFallback && !g.contextFallback) throw lastError!;
      for (const name of next) {
        const fb = table.group(name, call.projectId);
        if (fb) queue.push(fb);
      }
    }
    // Every deployment failed: the attempt fails with the last error (the queue retries it, honouring its Retry-After).
    if (lastError) throw lastError;
    // Nothing could be sent: every deployment is cooling down or out of capacity. Wait, spending no attempt.
    throw new WaitForCapacity(Number.isFinite(waitUntil) ? waitUntil : Date.now() + first.cooldownMs);
  }
}
