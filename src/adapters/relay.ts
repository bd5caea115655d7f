import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { EVERY_PROJECT } from '../auth/caller.js';
import { AppError } from '../errors/app-error.js';
import type { JobEvent } from '../events/job-events.js';
import { requestContext } from '../generation/request-context.js';
import type { GenerateOutcome } from '../generation/service.js';
import { idempotently } from '../idempotency/request.js';
import type { StoredResponse } from '../idempotency/store.js';
import { jobOutcome } from '../jobs/dto.js';
import { failedGenerationError } from '../jobs/failed-answer.js';
import type { GenerationRequest } from '../llm/request.js';
import type { FinishReason } from '../llm/result.js';
import { chunksOf } from '../util/chunks.js';

/** How often a streamed call checks its job's row (in case the final event was lost) and sends a `: ping` comment. */
const CHECK_MS = 2000;
const REPLAY_CHUNKS = 8;

/** One streamed answer in a wire format: the SSE frames that open it, carry a piece of text, close it, or end it in error. */
export interface StreamFormat {
  start(): string;
  delta(text: string): string;
  finish(usage: { inputTokens: number; outputTokens: number }, reason: FinishReason): string;
  error(err: AppError): string;
}

export const sse = (data: unknown, event?: string) => `${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(data)}\n\n`;

/**
 * A compat call with `stream: true`: admitted exactly as a held one (cache, single flight,
 * holds), then answered as Server-Sent Events in the caller's format. A cached or completed
 * answer is replayed in pieces; an in-flight job is relayed from the first entry of its event
 * stream, so every caller attached to it gets the whole answer. A job that fails after its
 * first piece was sent, or dies, ends the stream with the format's error event.
 * Errors before admission (400, 401, 402, 429, …) are ordinary error responses.
 * With `Idempotency-Key`, the admission is what is remembered (its jobId and headers): a repeat
 * with the same payload is answered, as a stream, from that job as it stands now.
 */
export async function relayStream(
  app: FastifyInstance,
  request: FastifyRequest,
  reply: FastifyReply,
  generation: GenerationRequest,
  makeFormat: (jobId: string) => StreamFormat,
): Promise<void> {
  let admitted: GenerateOutcome | undefined;
  const admit = async (): Promise<StoredResponse> => {
    admitted = await app.svc.generation.generateRequest(generation, requestContext(request, reply, { defaultWaitSeconds: 0, stream: true }));
    const { jobId } = admitted.body;
    return { status: 200, body: { jobId, stream: true }, headers: { 'x-cache': admitted.cache, ...(admitted.tier ? { 'x-cache-tier': admitted.tier } : {}), 'x-promptlab-job-id': jobId } };
  };
  const first = await idempotently(app, request, admit);
  const { jobId } = first.body as { jobId?: unknown };
  if (typeof jobId !== 'string') throw new AppError('internal_error', 'The Idempotency-Key holds a response that is not a stream.');
  const format = makeFormat(jobId);

  reply.hijack();
  const res = reply.raw;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(reply.getHeaders())) if (v !== undefined) headers[k] = String(v);
  res.writeHead(200, {
    ...headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    'x-request-id': request.id,
    ...first.headers,
    ...(first.replayed ? { 'idempotent-replayed': 'true' } : {}),
  });
  res.write(format.start());

  const replay = (text: string, usage: { inputTokens: number; outputTokens: number } | undefined, reason: FinishReason | undefined) => {
    for (const piece of chunksOf(text, REPLAY_CHUNKS)) res.write(format.delta(piece));
    res.end(format.finish(usage ?? { inputTokens: 0, outputTokens: 0 }, reason ?? 'stop'));
  };
  if (admitted?.body.result) return replay(admitted.body.result.text, admitted.usage, admitted.body.finishReason);

  const { jobs } = app.svc;
  // A stream ends in a timeout only when no piece came for COMPAT_WAIT_SECONDS, so a long answer is not cut.
  const waitMs = app.deps.config.COMPAT_WAIT_SECONDS * 1000;
  let deadline = Date.now() + waitMs;
  let sent = '';
  let ended = false;
  let unsubscribe: (() => void) | undefined;
  let chain = Promise.resolve();
  const end = (frame: string) => {
    if (ended) return;
    ended = true;
    unsubscribe?.();
    clearInterval(check);
    res.end(frame);
  };
  const fail = (code: 'generation_failed' | 'generation_timeout', message: string) => end(format.error(new AppError(code, message, { jobId })));
  const settle = async () => {
    const outcome = jobOutcome(await jobs.get(jobId, EVERY_PROJECT));
    if (outcome.status === 'completed' && outcome.result) {
      if (!outcome.result.text.startsWith(sent)) return fail('generation_failed', `Generation ${jobId} was retried after part of its answer was streamed; its answer: GET /v1/jobs/${jobId}.`);
      for (const piece of chunksOf(outcome.result.text.slice(sent.length), REPLAY_CHUNKS)) res.write(format.delta(piece));
      return end(format.finish(outcome.usage ?? { inputTokens: 0, outputTokens: 0 }, outcome.finishReason ?? 'stop'));
    }
    if (outcome.status === 'dead' || outcome.status === 'canceled') return end(format.error(failedGenerationError(jobId, outcome.error, { jobId })));
  };
  // A stream that does not open with `queued` was trimmed (or lost entries while Redis was away):
  // its pieces are not the whole answer, so this caller waits for the row and gets it replayed.
  let live: boolean | undefined;
  const deliver = async (e: JobEvent) => {
    if (ended) return;
    live ??= e.type === 'queued';
    if (e.type === 'delta' && typeof e.data.text === 'string') {
      if (!live) return;
      sent += e.data.text;
      deadline = Date.now() + waitMs;
      res.write(format.delta(e.data.text));
    } else if ((e.type === 'retrying' || e.type === 'active') && sent) {
      // An attempt failed, or another run started (its worker died): its pieces would start the answer over.
      fail('generation_failed', `Generation ${jobId} failed after part of its answer was streamed; it is retried: GET /v1/jobs/${jobId}.`);
    } else if (e.type === 'completed' || e.type === 'dead' || e.type === 'canceled') {
      await settle();
    }
  };
  const send = (e: JobEvent) => {
    chain = chain.then(() => deliver(e)).catch((err: unknown) => {
      request.log.warn({ err: String(err) }, 'compat stream failed');
      end('');
    });
  };
  // The job may settle with its final event lost (Redis away): the row is the record.
  const check = setInterval(() => {
    chain = chain.then(async () => {
      if (ended) return;
      res.write(': ping\n\n');
      await settle();
      if (!ended && Date.now() >= deadline) fail('generation_timeout', `Generation ${jobId} sent nothing for ${waitMs / 1000} s; it goes on: GET /v1/jobs/${jobId}.`);
    }).catch(() => {});
  }, CHECK_MS);
  check.unref();
  res.on('close', () => end(''));
  // A replayed admission's job may have settled long ago (its event stream expired): the row answers at once.
  if (first.replayed) await (chain = chain.then(settle).catch((err: unknown) => { request.log.warn({ err: String(err) }, 'compat stream failed'); end(''); }));
  if (ended) return;
  unsubscribe = await app.jobStreams.follow(jobId, send);
  if (ended) unsubscribe();
}
