import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { AppError } from '../errors/app-error.js';
import { TIMED_OUT, within } from '../util/within.js';
import { ErrorBody } from './schemas.js';

const Checks = Type.Object({ status: Type.String(), checks: Type.Optional(Type.Record(Type.String(), Type.String())) });
/** Not ready: the checks, plus the standard error body every error carries. */
const NotReady = Type.Object({ ...Checks.properties, error: ErrorBody.properties.error }, { description: 'service_unavailable: Redis or Postgres does not answer' });

export default async function healthRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['operations'];
  app.get('/health', { schema: { tags, summary: 'The process is up', response: { 200: Checks } } }, async () => ({ status: 'ok' }));

  app.get('/ready', {
    schema: { tags, summary: 'Redis and Postgres answer (503 otherwise)', response: { 200: Checks, 503: NotReady } },
  }, async (_request, reply) => {
    const check = async (p: Promise<unknown>) => ((await within(p, 1000).catch(() => TIMED_OUT)) === TIMED_OUT ? 'down' : 'ok');
    const [redis, postgres] = await Promise.all([check(app.deps.redis.ping()), check(app.deps.database.ping())]);
    const checks = { redis, postgres };
    const ok = checks.redis === 'ok' && checks.postgres === 'ok';
    if (ok) return { status: 'ok', checks };
    const down = Object.entries(checks).filter(([, v]) => v === 'down').map(([k]) => k);
    const { error } = new AppError('service_unavailable', `Not ready: ${down.join(' and ')} not answering.`).toBody();
    return reply.code(503).send({ status: 'unavailable', checks, error });
  });
}
