import { cost, jobDuration, jobsFinished, providerDuration, providerRequests, tokens } from './registry.js';

type Usage = { inputTokens: number; outputTokens: number };

/**
 * One attempt of a worker: the provider call's outcome (`success`, or the
 * failure code: `provider_rate_limited`, `output_invalid`, …), its latency
 * since `startedAt` (a `performance.now()`), and the tokens and cost (USD,
 * as the worker priced them) it was billed, failed attempts included.
 */
export function recordAttempt(
  job: { provider: string; model: string },
  outcome: string,
  startedAt: number,
  usage: Usage | undefined,
  usd: number,
): void {
  if (outcome === 'provider_unavailable') return; // no provider was called
  const labels = { provider: job.provider, model: job.model };
  providerRequests.inc({ ...labels, outcome });
  providerDuration.observe(labels, (performance.now() - startedAt) / 1000);
  if (!usage) return;
  tokens.inc({ ...labels, type: 'input' }, usage.inputTokens);
  tokens.inc({ ...labels, type: 'output' }, usage.outputTokens);
  if (usd > 0) cost.inc(labels, usd);
}

/** A job reached its final status; `enqueuedAt` is the BullMQ job's timestamp (epoch ms). */
export function recordJobFinished(status: 'completed' | 'dead', enqueuedAt: number): void {
  jobsFinished.inc({ status });
  jobDuration.observe({ status }, Math.max(0, Date.now() - enqueuedAt) / 1000);
}
