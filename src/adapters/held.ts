import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors/app-error.js';
import { requestContext } from '../generation/request-context.js';
import { idempotently } from '../idempotency/request.js';
import type { StoredResponse } from '../idempotency/store.js';
import { failedGenerationError } from '../jobs/failed-answer.js';
import { compatAnswer, type CompatAnswer, type WireCall } from './answer.js';

/**
 * Runs a compat request through the same core as `/v1/generate` (cache, single flight,
 * holds, a durable job), holds it until the job ends (COMPAT_WAIT_SECONDS, then a 504
 * `generation_timeout` with the jobId; a dead job is a 502), and renders the answer with `render`.
 * `Idempotency-Key` replays the first response; `Cache-Control: no-cache` bypasses the cache.
 */
export async function answerHeld(
  app: FastifyInstance,
  request: FastifyRequest,
  reply: FastifyReply,
  call: WireCall,
  render: (a: CompatAnswer) => unknown,
): Promise<StoredResponse & { replayed?: boolean }> {
  const ctx = requestContext(request, reply, { defaultWaitSeconds: app.deps.config.COMPAT_WAIT_SECONDS, ...(call.annotations ? { annotations: call.annotations } : {}) });
  const waitMs = ctx.waitMs;
  const run = async (): Promise<StoredResponse> => {
    const o = await app.svc.generation.generateRequest(call.request, ctx);
    const { jobId, status } = o.body;
    const jobHeader = { 'x-promptlab-job-id': jobId };
    if (status === 'dead' || status === 'canceled') {
      const error = o.body.error as { code: string; message: string } | undefined;
      throw failedGenerationError(jobId, error, { jobId, error }, jobHeader);
    }
    if (status !== 'completed' || !o.body.result) {
      throw new AppError('generation_timeout', `Generation ${jobId} did not finish within ${waitMs / 1000} s; it goes on: GET /v1/jobs/${jobId}.`, { jobId }, jobHeader);
    }
    const body = render(compatAnswer(jobId, call.model, { result: o.body.result, finishReason: o.body.finishReason, usage: o.usage, cached: o.body.cached }));
    return { status: 200, body, headers: { 'x-cache': o.cache, ...(o.tier ? { 'x-cache-tier': o.tier } : {}), ...jobHeader } };
  };
  return idempotently(app, request, run);
}
