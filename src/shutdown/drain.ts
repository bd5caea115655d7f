import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/**
 * Graceful shutdown for keep-alive clients: once `app.close()` starts, every
 * response still being sent carries `Connection: close`. Node's
 * `server.close()` only drops connections idle at that moment; a request in
 * flight would otherwise leave its socket open for the whole keep-alive
 * timeout after answering, and the close would wait for it.
 */
export const drainPlugin = fp(
  async (app: FastifyInstance) => {
    let closing = false;
    app.addHook('preClose', async () => { closing = true; });
    app.addHook('onSend', (_request, reply, payload, done) => {
      if (closing) reply.header('connection', 'close');
      done(null, payload);
    });
  },
  { name: 'drain', fastify: '5.x' },
);
