import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../errors/app-error.js';
import type { ApiKeys } from './keys.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Route needs the admin key. */
    admin?: boolean;
  }
}

/**
 * Resolves `Authorization: Bearer <key>` on every `/v1` route (401 otherwise)
 * and enforces `config.admin` (403). Registered at the root, before the rate
 * limiter, so the limiter can key on the caller.
 */
export const authPlugin = fp<{ apiKeys: ApiKeys }>(
  async (app: FastifyInstance, { apiKeys }) => {
    app.addHook('onRequest', async (request) => {
      if (!request.routeOptions.url?.startsWith('/v1/')) return;
      const header = request.headers.authorization;
      const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
      const caller = m ? await apiKeys.resolve(m[1]!) : undefined;
      if (!caller) throw new AppError('unauthorized');
      request.caller = caller;
      if (request.routeOptions.config.admin && !caller.admin) throw new AppError('forbidden');
    });
  },
  { name: 'auth' },
);
