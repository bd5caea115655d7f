import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';

const Checks = Type.Object({ status: Type.String(), checks: Type.Optional(Type.Record(Type.String(), Type.String())) });

export default async function healthRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['operations'];
  app.get('/health', { schema: { tags, summary: 'The process is up', response: { 200: Checks } } }, async () => ({ status: 'ok' }));

  app.get('/ready', {
    schema: { tags, summary: 'Redis and Postgres answer (503 otherwise)', response: { 200: Checks, 503: Checks } },
  }, async (_request, reply) => {
    const timeout = <T>(p: Promise<T>) => Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('timeout')), 1000).unref())]);
    const [redis, postgres] = await Promise.allSettled([timeout(app.deps.redis.ping()), timeout(app.deps.database.ping())]);
    const checks = { redis: redis.status === 'fulfilled' ? 'ok' : 'down', postgres: postgres.status === 'fulfilled' ? 'ok' : 'down' };
    const ok = checks.redis === 'ok' && checks.postgres === 'ok';
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', checks });
  });
}
