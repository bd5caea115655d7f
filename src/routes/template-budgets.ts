import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { BudgetList, BudgetStatus, errorResponses, Id, periodsOnce } from './schemas.js';

const Params = Type.Object({ id: Id('tpl') });
const Budgets = Type.Object({ templateId: Type.String(), budgets: Type.Array(BudgetStatus) });

/**
 * A template's budgets: every generation made from it falls under them, whichever key asks.
 * Apart from PATCH /v1/templates/:id, because a budget is not part of what the template
 * renders: setting one must not bump its version (and so its cache keys).
 */
export default async function templateBudgetRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['templates'];
  const status = async (id: string) => ({ templateId: id, budgets: await app.svc.budgets.status('template', id) });

  app.get('/v1/templates/:id/budgets', {
    schema: { tags, summary: 'A template\'s budgets, with spent, reserved and remaining', params: Params, response: { 200: Budgets, ...errorResponses('bad_request', 'template_not_found') } },
  }, async (request) => {
    await app.svc.templates.get(request.params.id, request.caller!);
    return status(request.params.id);
  });

  app.put('/v1/templates/:id/budgets', {
    config: { projectAdmin: true },
    schema: {
      tags, summary: 'Replace a template\'s budgets (project admin); [] removes them',
      params: Params, body: Type.Object({ budgets: BudgetList }, { additionalProperties: false }),
      response: { 200: Budgets, ...errorResponses('bad_request', 'invalid_json', 'project_admin_required', 'project_not_found', 'template_not_found', 'payload_too_large', 'unsupported_media_type') },
    },
  }, async (request) => {
    const tpl = await app.svc.templates.get(request.params.id, request.caller!);
    await app.svc.budgets.set('template', request.params.id, periodsOnce(request.body.budgets));
    await app.svc.audit.record(request, 'budget.changed', request.params.id, tpl.projectId, { scope: 'template', budgets: request.body.budgets });
    return status(request.params.id);
  });
}
