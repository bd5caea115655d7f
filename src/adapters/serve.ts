import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Config } from '../config/index.js';
import type { ErrorCode } from '../errors/catalogue.js';
import { GenerationHeaders } from '../generation/request-context.js';
import { answerHeld } from './held.js';
import { relayStream, type StreamFormat } from './relay.js';
import type { CompatAnswer, WireCall } from './answer.js';

/** The body limit of the wire formats' generation routes (COMPAT_BODY_LIMIT_MB): images and PDFs travel inline. */
export const compatBodyLimit = (config: Config): number => config.COMPAT_BODY_LIMIT_MB * 1024 * 1024;

/** The headers of every wire format's generation route: those of /v1/generate, meaning the same. */
export const WireHeaders = Type.Object(GenerationHeaders);

/** The catalogue codes a wire format's generation route answers with (in its own error body). */
export const WIRE_ERRORS: readonly ErrorCode[] = ['bad_request', 'invalid_json', 'provider_unavailable', 'unknown_model', 'idempotency_key_in_progress',
  'payload_too_large', 'unsupported_media_type', 'idempotency_key_reused', 'service_unavailable', 'model_not_allowed', 'budget_exceeded',
  'generation_failed', 'generation_unrecoverable', 'generation_timeout'];

export const HELD_DESCRIPTION = 'Held until the job ends (up to COMPAT_WAIT_SECONDS, default 60 s, or `Prefer: wait=N`, then 504 generation_timeout with the jobId). ' +
  'Headers `X-Cache: HIT|MISS|BYPASS` and `X-PromptLab-Job-Id`. With `stream: true`, Server-Sent Events in this format, ' +
  'relayed from the job (a cached answer is replayed as a stream); see docs/compatible-endpoints.md.';

/**
 * One call in a wire format, through the same core as `/v1/generate`: relayed as a stream in the
 * caller's format (`stream`), or held until its job ends and answered whole (`render`).
 */
export async function serveCall(
  app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, call: WireCall,
  stream: false | undefined | ((jobId: string) => StreamFormat), render: (a: CompatAnswer) => unknown,
): Promise<void> {
  if (stream) return relayStream(app, request, reply, call, stream);
  const res = await answerHeld(app, request, reply, call, render);
  if (res.replayed) reply.header('idempotent-replayed', 'true');
  await reply.code(200).headers(res.headers).send(res.body);
}
