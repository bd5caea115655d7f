import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { idempotencyOwner } from '../auth/caller.js';
import { canonicalHash } from '../llm/hash.js';
import type { StoredResponse } from './store.js';

/** `Idempotency-Key` on the routes that admit work (generate, the wire formats, batches). */
export const IdempotencyKeyHeader = Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'Scoped to the API key, kept 24 h: a repeat returns the first response' }));

/**
 * Runs `run` under the request's `Idempotency-Key` when it has one (scoped to the caller's key, per project for the admin key,
 * the payload being the route and body): a repeat gets the first response with `replayed`.
 */
export async function idempotently(
  app: FastifyInstance,
  request: FastifyRequest,
  run: () => Promise<StoredResponse>,
): Promise<StoredResponse & { replayed?: boolean }> {
  const key = request.headers['idempotency-key'];
  if (typeof key !== 'string' || !key) return run();
  return app.svc.idempotency.run(idempotencyOwner(request.caller!), key, canonicalHash({ route: request.routeOptions.url, body: request.body }), run);
}
