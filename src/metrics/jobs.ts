import { costUsd, priceFor, type PricingOverrides } from '../providers/pricing.js';
import { cost, jobDuration, jobsFinished, providerDuration, providerRequests, tokens } from './registry.js';

type Usage = { inputTokens: number; outputTokens: number };

/**
 * One attempt of a worker: the provider call's outcome (`success`, or the
 * failure code: `provider_rate_limited`, `output_invalid`, …), its latency
 * since `startedAt` (a `performance.now()`), and the tokens and list-price
 * cost it was billed, failed attempts included.
 */
export function recordAttempt(
  job: { provider: string; model: string },
  outcome: string,
  startedAt: number,
  usage: Usage | undefined,
  pricing?: PricingOverrides,
): void {
  if (outcome === 'provider_unavailable') return; // no provider was called
  const labels = { provider: job.provider, model: job.model };
  providerRequests.inc({ ...labels, outcome });
  providerDuration.observe(labels, (performance.now() - startedAt) / 1000);
  if (!usage) return;
  tokens.inc({ ...labels, type: 'input' }, usage.inputTokens);
  tokens.inc({ ...labels, type: 'output' }, usage.outputTokens);
  const price = priceFor(job.provider, job.model, pricing);
  if (price) cost.inc(labels, costUsd(usage, price));
}

/** A job reached its final status; `enqueuedAt` is the BullMQ job's timestamp (epoch ms). */
export function recordJobFinished(status: 'completed' | 'dead', enqueuedAt: number): void {
  jobsFinished.inc({ status });
  jobDuration.observe({ status }, Math.max(0, Date.now() - enqueuedAt) / 1000);
}
