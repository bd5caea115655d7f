import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { TIERS } from '../auth/caller.js';
import { tierLimits } from '../ratelimit/limits.js';
import { tokenLimits } from '../ratelimit/tokens.js';
import { BudgetStatus, errorResponses } from './schemas.js';

const Me = Type.Object({
  keyId: Type.String({ description: '`admin` for the admin key' }),
  name: Type.Union([Type.String(), Type.Null()]),
  role: Type.Enum(['global_admin', 'admin', 'member']),
  project: Type.Union([Type.Object({ id: Type.String(), name: Type.String() }), Type.Null()]),
  tier: Type.Union([Type.Enum([...TIERS]), Type.Null()], { description: 'null for the admin key' }),
  limits: Type.Object({
    requestsPerMinute: Type.Integer({ description: 'Requests per RATE_LIMIT_WINDOW_MS (a minute by default)' }),
    tokensPerMinute: Type.Union([Type.Integer(), Type.Null()], { description: 'null: not token-limited (the admin key)' }),
    windowMs: Type.Integer(),
  }),
  budgets: Type.Array(BudgetStatus, { description: "The key's budgets in their current periods" }),
  expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

/** GET /v1/me: who the bearer key is and what it may do, for clients (the console) to show only that. */
export default async function meRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.get('/v1/me', {
    schema: { tags: ['auth'], summary: 'The calling key: project, role, tier, limits and budgets (the admin key: its X-PromptLab-Project, or null)', response: { 200: Me, ...errorResponses() } },
  }, async (request) => {
    const caller = request.caller!;
    const { config } = app.deps;
    const limits = { requestsPerMinute: tierLimits(config)[caller.tier], windowMs: config.RATE_LIMIT_WINDOW_MS };
    const project = caller.projectId ? await app.svc.projects.get(caller.projectId) : null;
    const shown = project && { id: project.id, name: project.name };
    if (caller.admin) {
      return { keyId: caller.keyId, name: null, role: 'global_admin' as const, project: shown, tier: null, limits: { ...limits, tokensPerMinute: null }, budgets: [], expiresAt: null };
    }
    const [key, budgets] = await Promise.all([app.svc.apiKeys.get(caller.keyId, caller), app.svc.budgets.status('api_key', caller.keyId)]);
    return {
      keyId: caller.keyId, name: key.name, role: caller.role, project: shown, tier: caller.tier,
      limits: { ...limits, tokensPerMinute: tokenLimits(config)[caller.tier] }, budgets, expiresAt: key.expiresAt,
    };
  });
}
