import { stage } from '../telemetry/stages.js';
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
import { applyDelta, remainder } from '../llm/answer.js';
import type { OutputBlock } from '../llm/message.js';
import type { StreamDelta } from '../llm/result.js';
import { deltaOfEvent } from '../events/deltas.js';
import { compatAnswer, type CompatAnswer, type WireCall } from './answer.js';

/** How often a streamed call checks its job's row (in case the final event was lost) and sends a `: ping` comment. */
const CHECK_MS = 2000;
const REPLAY_CHUNKS = 8;

/** How a streamed answer ends: its whole blocks, usage and finish reason, and whether it came from the cache. */
export type StreamEnd = Omit<CompatAnswer, 'model' | 'logprobs'>;

/**
 * One streamed answer in a wire format: the SSE frames that open it, carry a piece (text, a tool
 * call's start or arguments, reasoning), close it (given the whole answer), or end it in error.
 * Each format keeps what it needs of the pieces sent (open blocks, tool call indices).
 */
export interface StreamFormat {
  start(): string;
  delta(d: StreamDelta): string;
  finish(end: StreamEnd): string;
  error(err: AppError): string;
  /** A refusal's text goes in `finish`, not as answer text (OpenAI's `refusal`). */
  refusalApart?: boolean;
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
  call: WireCall,
  makeFormat: (jobId: string) => StreamFormat,
): Promise<void> {
  let admitted: GenerateOutcome | undefined;
  const admit = async (): Promise<StoredResponse> => {
    const ctx = requestContext(request, reply, { defaultWaitSeconds: 0, stream: true, ...(call.annotations ? { annotations: call.annotations } : {}) });
    admitted = await app.svc.generation.generateRequest(call.request, ctx);
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

  /** The blocks sent so far; a finished answer completes them, if they are its start. */
  const sent: OutputBlock[] = [];
  const write = (d: StreamDelta) => {
    applyDelta(sent, d);
    res.write(format.delta(d));
  };
  /** The rest of a finished answer after what was sent, and its end; false when what was sent is not its start. */
  const complete = (a: CompatAnswer): boolean => {
    const blocks = format.refusalApart && a.finishReason === 'refusal' ? [] : a.blocks;
    const rest = remainder(blocks, sent, REPLAY_CHUNKS);
    if (!rest) return false;
    for (const d of rest) write(d);
    return true;
  };
  if (admitted?.body.result) {
    const a = compatAnswer(jobId, call.model, { result: admitted.body.result, finishReason: admitted.body.finishReason, usage: admitted.usage, cached: admitted.body.cached });
    complete(a);
    return void res.end(format.finish(a));
  }

  const { jobs } = app.svc;
  // A stream ends in a timeout only when no piece came for COMPAT_WAIT_SECONDS, so a long answer is not cut.
  const waitMs = app.deps.config.COMPAT_WAIT_SECONDS * 1000;
  let deadline = Date.now() + waitMs;
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
      const a = compatAnswer(jobId, call.model, { result: outcome.result, finishReason: outcome.finishReason, usage: outcome.usage, cached: false });
      if (!complete(a)) return fail('generation_failed', `Generation ${jobId} was retried after part of its answer was streamed; its answer: GET /v1/jobs/${jobId}.`);
      return end(format.finish(a));
    }
    if (outcome.status === 'dead' || outcome.status === 'canceled') return end(format.error(failedGenerationError(jobId, outcome.error, { jobId })));
  };
  // A stream that does not open with `queued` was trimmed (or lost entries while Redis was away):
  // its pieces are not the whole answer, so this caller waits for the row and gets it replayed.
  let live: boolean | undefined;
  const deliver = async (e: JobEvent) => {
    if (ended) return;
    live ??= e.type === 'queued';
    if (e.type === 'delta') {
      const d = deltaOfEvent(e.data);
      if (!live || !d) return;
      deadline = Date.now() + waitMs;
      stage(jobId, 'relayed');
      write(d);
    } else if ((e.type === 'retrying' || e.type === 'active') && sent.length) {
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
