import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { PRIORITIES, type Priority } from '../db/schema.js';
import type { Caller } from '../auth/caller.js';
import { bypassesCache } from '../http/cache-control.js';
import { cancelAfterMs, preferredWait } from '../http/prefer.js';
import { IdempotencyKeyHeader } from '../idempotency/request.js';

/** Who asks for a generation, and how: what every way of admitting one passes the core. */
export interface GenerateContext {
  caller: Caller;
  requestId: string;
  /** `Cache-Control: no-cache`: skip the lookup; the new result refreshes the cache. */
  bypassCache: boolean;
  /** How long to hold the response for the job, in ms; 0 answers at once. */
  waitMs: number;
  /** The caller streams the answer: the job publishes `delta` events (a job another request admitted may not). */
  stream?: boolean;
  /** The request's queue class (`priority`, `X-PromptLab-Priority`); default: the key's, else its tier's. */
  priority?: Priority;
  /** `Cancel-After`, in ms: the generation is canceled if it has not ended by then. */
  cancelAfterMs?: number;
  /** The end user and metadata the request names: kept on a job it admits, not part of its input. */
  annotations?: Annotations;
}

/** What a request says about itself that is not part of its input. */
export interface Annotations {
  endUser?: string;
  metadata?: Record<string, unknown>;
}

/**
 * The headers every route that admits a generation takes, meaning the same on each (the native
 * route and every wire format): the same schema objects, so validation and the OpenAPI document agree.
 */
export const GenerationHeaders = {
  'cache-control': Type.Optional(Type.String({ description: '`no-cache` skips the cache lookup; the new result refreshes it' })),
  prefer: Type.Optional(Type.String({ description: 'RFC 7240 `wait=N`: hold the response up to N seconds (at most 60) for the job; answered with `Preference-Applied`' })),
  'cancel-after': Type.Optional(Type.String({ maxLength: 40, description: 'Cancel the job if it has not ended after this long: `30s`, `5m`, `1h30m` (1 s to 24 h)' })),
  'idempotency-key': IdempotencyKeyHeader,
  'x-promptlab-priority': Type.Optional(Type.Enum([...PRIORITIES], { description: "Queue class of the job; default: the key's, else its tier's" })),
};

export interface ContextOptions {
  /** How long to hold the response for the job when the request asks nothing (`?wait=`, `Prefer: wait=`), in seconds. */
  defaultWaitSeconds: number;
  /** `?wait=` of the native route; wins over `Prefer`. */
  waitSeconds?: number;
  /** The body's `priority`; wins over `X-PromptLab-Priority`. */
  priority?: Priority;
  /** The caller streams the answer (the job publishes its pieces; the response is relayed, never held). */
  stream?: boolean;
  annotations?: Annotations;
}

/**
 * The generation context of a request, built one way for every route that admits one: the
 * caller, `Cache-Control: no-cache`, how long to hold the response (`?wait=`, else `Prefer: wait=`,
 * answered with `Preference-Applied`, else the route's default), `Cancel-After`, and the queue
 * class (the body's, else `X-PromptLab-Priority`, else the key's).
 */
export function requestContext(request: FastifyRequest, reply: FastifyReply, opts: ContextOptions): GenerateContext {
  const h = request.headers;
  const preferred = opts.waitSeconds === undefined ? preferredWait(h.prefer) : undefined;
  if (preferred !== undefined) reply.header('preference-applied', `wait=${preferred}`);
  const header = h['x-promptlab-priority'];
  const priority = opts.priority ?? (typeof header === 'string' && (PRIORITIES as readonly string[]).includes(header) ? header as Priority : undefined);
  const cancelAfter = h['cancel-after'];
  return {
    caller: request.caller!,
    requestId: request.id,
    bypassCache: bypassesCache(h['cache-control']),
    waitMs: opts.stream ? 0 : (opts.waitSeconds ?? preferred ?? opts.defaultWaitSeconds) * 1000,
    ...(opts.stream ? { stream: true } : {}),
    ...(priority ? { priority } : {}),
    ...(typeof cancelAfter === 'string' ? { cancelAfterMs: cancelAfterMs(cancelAfter) } : {}),
    ...(opts.annotations && Object.keys(opts.annotations).length ? { annotations: opts.annotations } : {}),
  };
}
