import type { GenerationRequest } from '../llm/request.js';
import type { Attributes } from '@opentelemetry/api';
import { traceCarrier, traced } from '../telemetry/tracing.js';

/** An admission as a span (tracing on): cache, holds, the row and the enqueue, and what it answered. */
export function admissionSpan<T extends { cache: string; tier?: string | undefined; body: { jobId: string } }>(request: GenerationRequest, hash: string, run: () => Promise<T>): Promise<T> {
  const describe = (): [string, Attributes] => ['promptlab.admission', { 'gen_ai.request.model': request.model, 'gen_ai.provider.name': request.provider, 'promptlab.input_hash': hash }];
  return traced(describe, async (span) => {
    const out = await run();
    span?.setAttributes({ 'promptlab.cache': out.cache, ...(out.tier ? { 'promptlab.cache_tier': out.tier } : {}), 'promptlab.job_id': out.body.jobId });
    return out;
  });
}

/** The admitting request's trace context, kept on the row and carried by the job (tracing on); nothing when off. */
export function traceOf(): { trace?: Record<string, string> } {
  const trace = traceCarrier();
  return trace ? { trace } : {};
}
