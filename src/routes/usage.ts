import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { AppError } from '../errors/app-error.js';
import { DAY_PATTERN, FIRST_DAY, LAST_DAY } from '../http/dates.js';
import { usageReport } from '../usage/report.js';
import { errorResponses } from './schemas.js';

const Sums = {
  requests: Type.Number(),
  cacheHits: Type.Number(),
  inputTokens: Type.Number(),
  outputTokens: Type.Number(),
  costUsd: Type.Number({ description: 'Spent on provider calls, failed attempts included; unpriced attempts are not in it (see unpriced)' }),
  savedUsd: Type.Number({ description: 'What cache hits would have cost, priced as the original generation' }),
  unpriced: Type.Number({ description: 'Attempts charged with no known price (models admitted under ALLOW_UNPRICED_MODELS): their tokens are counted, their cost is not in costUsd' }),
};
const Day = Type.String({ format: 'date', pattern: DAY_PATTERN, description: `YYYY-MM-DD (UTC), ${FIRST_DAY} to ${LAST_DAY}` });

export default async function usageRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.get('/v1/usage', {
    schema: {
      tags: ['usage'],
      summary: "Spend per API key and template between two days: a member's own key, its project's keys for a project admin, every key for the admin key",
      querystring: Type.Object({ from: Type.Optional(Day), to: Type.Optional(Day) }, { additionalProperties: false }),
      response: {
        200: Type.Object({
          from: Type.String(), to: Type.String(), totals: Type.Object(Sums),
          byDay: Type.Array(Type.Object({ day: Type.String({ description: 'YYYY-MM-DD (UTC); days without requests are left out' }), ...Sums })),
          byApiKey: Type.Array(Type.Object({ apiKeyId: Type.String(), ...Sums })),
          byTemplate: Type.Array(Type.Object({ templateId: Type.Union([Type.String(), Type.Null()], { description: 'null: generations not rendered from a template' }), ...Sums })),
        }),
        ...errorResponses('bad_request', 'project_not_found'),
      },
    },
  }, async (request) => {
    const today = new Date().toISOString().slice(0, 10);
    const to = request.query.to ?? today;
    const from = request.query.from ?? `${to.slice(0, 8)}01`;
    if (from > to) throw new AppError('bad_request', 'from must not be after to.');
    // Counters reach Postgres in batches; flush this process's so a client sees its own requests.
    await app.svc.meter.flush();
    return usageReport(app.deps.database.db, request.caller!, from, to);
  });
}
