import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { homeProject, TIERS } from '../auth/caller.js';
import { DEFAULT_ROTATION_GRACE_S, MAX_ROTATION_GRACE_S } from '../auth/keys.js';
import { KEY_ROLES, PRIORITIES } from '../db/schema.js';
import { AppError } from '../errors/app-error.js';
import { MODEL_PATTERN } from '../spend/model-pattern.js';
import { BudgetList, BudgetStatus, errorResponses, Id, periodsOnce } from './schemas.js';

const AllowedModels = Type.Array(Type.String({ pattern: MODEL_PATTERN, maxLength: 260 }), {
  maxItems: 100,
  description: '`provider/model` globs (`*` matches anything: `anthropic/claude-haiku-*`, `openai/*`, `*`); replaces the tier\'s list (MODELS_<TIER>)',
});
const Instant = Type.String({ format: 'date-time' });
const Maybe = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

/** What every admin route shows of a key (never the key or its hash). */
const KeyFields = {
  id: Type.String(),
  name: Type.String(),
  prefix: Type.Union([Type.String(), Type.Null()], { description: 'The first characters of the secret (`pl_live_AbCd`), to recognise it; null for keys issued before prefixes were kept' }),
  role: Type.Enum([...KEY_ROLES]),
  tier: Type.Enum([...TIERS]),
  projectId: Type.String(),
  createdAt: Instant,
  lastUsedAt: Maybe(Instant),
  expiresAt: Maybe(Instant),
  revokedAt: Maybe(Instant),
  allowedModels: Type.Union([Type.Array(Type.String()), Type.Null()], { description: 'null: the tier\'s list' }),
  priority: Type.Union([Type.Enum([...PRIORITIES]), Type.Null()], { description: 'Queue class when a request names none; null: the tier\'s (PRIORITY_<TIER>)' }),
  budgets: Type.Array(BudgetStatus, { description: 'Each budget in its current period' }),
};
const ApiKey = Type.Object(KeyFields);
const CreatedKey = Type.Object({ ...KeyFields, key: Type.String({ description: 'Shown once; only its hash is kept' }) });
const RotatedKey = Type.Object({
  ...KeyFields,
  key: Type.String({ description: 'The new secret, shown once' }),
  previousKeyValidUntil: Instant,
});

const CreateBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 200 }),
  tier: Type.Optional(Type.Enum([...TIERS], { description: 'Default: pro for the admin key; a project admin\'s own tier (never higher) for a project admin' })),
  role: Type.Optional(Type.Enum([...KEY_ROLES], { description: 'admin (default): manages its project; member: generates and reads' })),
  projectId: Type.Optional(Type.String({ minLength: 1, maxLength: 80, description: 'The admin key only (default: X-PromptLab-Project, else `default`); a project admin\'s keys go to its own project' })),
  expiresAt: Type.Optional(Instant),
  allowedModels: Type.Optional(AllowedModels),
  priority: Type.Optional(Type.Enum([...PRIORITIES], { description: 'Queue class when a request names none; default: the tier\'s' })),
  budgets: Type.Optional(BudgetList),
}, { additionalProperties: false });

const PatchBody = Type.Object({
  allowedModels: Type.Optional(Type.Union([AllowedModels, Type.Null()], { description: 'null: back to the tier\'s list' })),
  priority: Type.Optional(Type.Union([Type.Enum([...PRIORITIES]), Type.Null()], { description: 'null: back to the tier\'s class' })),
  budgets: Type.Optional(BudgetList),
}, { additionalProperties: false, minProperties: 1 });

const RotateBody = Type.Object({
  graceSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_ROTATION_GRACE_S, default: DEFAULT_ROTATION_GRACE_S, description: 'How long the old secret stays valid' })),
}, { additionalProperties: false });

const Params = Type.Object({ id: Id('key') });
const bodyErrors = ['bad_request', 'invalid_json', 'forbidden', 'project_admin_required', 'project_not_found', 'payload_too_large', 'unsupported_media_type'] as const;

/**
 * Key lifecycle, for project admins (their project's keys) and the admin key (every project's).
 * Another project's key answers 404 `api_key_not_found`, as a key that does not exist.
 */
export default async function apiKeyRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['keys'];
  const withBudgets = async <T extends { id: string }>(key: T) => ({ ...key, budgets: await app.svc.budgets.status('api_key', key.id) });

  app.post('/v1/api-keys', {
    config: { projectAdmin: true },
    schema: {
      tags,
      summary: 'Create an API key (project admin: in its project). The key is shown once; only its hash is kept.',
      body: CreateBody,
      response: { 201: CreatedKey, ...errorResponses(...bodyErrors) },
    },
  }, async (request, reply) => {
    const caller = request.caller!;
    const { name, tier, role, projectId: asked, expiresAt, allowedModels, priority, budgets } = request.body;
    const projectId = caller.admin ? (asked ?? homeProject(caller)) : homeProject(caller);
    // A project admin naming another project is answered as if that project did not exist.
    if (asked !== undefined && asked !== projectId) throw new AppError('project_not_found', `No project ${asked}.`);
    await app.svc.projects.get(projectId);
    // Tier and model list are the operator's spend controls: a project admin's keys inherit its own, never more.
    if (!caller.admin && allowedModels !== undefined) throw new AppError('forbidden', 'Only the admin key sets allowedModels; a project admin\'s keys inherit its own.');
    if (!caller.admin && tier !== undefined && TIERS.indexOf(tier) > TIERS.indexOf(caller.tier)) {
      throw new AppError('forbidden', `A project admin's keys may not have a higher tier than its own (${caller.tier}).`);
    }
    const models = caller.admin ? allowedModels : caller.allowedModels;
    const budgetList = caller.admin ? budgets && periodsOnce(budgets) : await app.svc.budgets.capped(caller.keyId, budgets && periodsOnce(budgets));
    const expires = expiresAt !== undefined ? new Date(expiresAt) : undefined;
    if (expires && !(expires.getTime() > Date.now())) throw new AppError('bad_request', 'expiresAt must be in the future.');
    const key = await app.svc.apiKeys.create({
      name, tier: tier ?? (caller.admin ? 'pro' : caller.tier), role: role ?? 'admin', projectId,
      ...(models ? { allowedModels: models } : {}), ...(priority ? { priority } : {}), ...(expires ? { expiresAt: expires } : {}),
    });
    if (budgetList) await app.svc.budgets.set('api_key', key.id, budgetList);
    await app.svc.audit.record(request, 'api_key.created', key.id, projectId, { name, role: key.role, tier: key.tier, expiresAt: key.expiresAt, ...(budgetList ? { budgets: budgetList } : {}) });
    return reply.code(201).send(await withBudgets(key));
  });

  app.get('/v1/api-keys', {
    config: { projectAdmin: true },
    schema: {
      tags,
      summary: 'List API keys, newest first, revoked ones included (project admin: its project; admin key: every project, or ?projectId=)',
      querystring: Type.Object({ projectId: Type.Optional(Type.String({ minLength: 1, maxLength: 80 })) }, { additionalProperties: false }),
      response: { 200: Type.Object({ data: Type.Array(ApiKey) }), ...errorResponses('bad_request', 'project_admin_required', 'project_not_found') },
    },
  }, async (request) => {
    const caller = request.caller!;
    const asked = request.query.projectId;
    if (asked !== undefined && caller.projectId !== null && asked !== caller.projectId) throw new AppError('project_not_found', `No project ${asked}.`);
    const keys = await app.svc.apiKeys.list({ projectId: asked ?? caller.projectId });
    return { data: await Promise.all(keys.map(withBudgets)) };
  });

  app.get('/v1/api-keys/:id', {
    config: { projectAdmin: true },
    schema: { tags, summary: 'Get an API key (project admin)', params: Params, response: { 200: ApiKey, ...errorResponses('bad_request', 'project_admin_required', 'project_not_found', 'api_key_not_found') } },
  }, async (request) => withBudgets(await app.svc.apiKeys.get(request.params.id, request.caller!)));

  app.patch('/v1/api-keys/:id', {
    config: { projectAdmin: true },
    schema: {
      tags,
      summary: 'Change an API key (project admin); every API process applies it at once',
      params: Params,
      body: PatchBody,
      response: { 200: ApiKey, ...errorResponses(...bodyErrors, 'api_key_not_found') },
    },
  }, async (request) => {
    const caller = request.caller!;
    const { budgets, ...patch } = request.body;
    if (!caller.admin && patch.allowedModels !== undefined) throw new AppError('forbidden', 'Only the admin key changes allowedModels.');
    if (!caller.admin && budgets && request.params.id === caller.keyId) throw new AppError('forbidden', 'A key may not change its own budgets.');
    const budgetList = !budgets || caller.admin ? budgets && periodsOnce(budgets) : await app.svc.budgets.capped(caller.keyId, periodsOnce(budgets));
    const key = await app.svc.apiKeys.update(request.params.id, patch, caller);
    if (Object.keys(patch).length) await app.svc.audit.record(request, 'api_key.changed', key.id, key.projectId, patch);
    if (budgetList) {
      await app.svc.budgets.set('api_key', key.id, budgetList);
      await app.svc.audit.record(request, 'budget.changed', key.id, key.projectId, { scope: 'api_key', budgets: budgetList });
    }
    return withBudgets(key);
  });

  app.delete('/v1/api-keys/:id', {
    config: { projectAdmin: true },
    schema: {
      tags,
      summary: 'Revoke an API key (project admin): refused by every API process within a second, and never accepted again',
      params: Params,
      response: { 200: ApiKey, ...errorResponses('bad_request', 'project_admin_required', 'project_not_found', 'api_key_not_found') },
    },
  }, async (request) => {
    const key = await app.svc.apiKeys.revoke(request.params.id, request.caller!);
    await app.svc.audit.record(request, 'api_key.revoked', key.id, key.projectId);
    return withBudgets(key);
  });

  app.post('/v1/api-keys/:id/rotate', {
    config: { projectAdmin: true },
    schema: {
      tags,
      summary: `Give an API key a new secret (project admin); the old one stays valid for graceSeconds (default ${DEFAULT_ROTATION_GRACE_S})`,
      params: Params,
      body: Type.Optional(RotateBody),
      response: { 200: RotatedKey, ...errorResponses(...bodyErrors, 'api_key_not_found') },
    },
  }, async (request) => {
    const grace = request.body?.graceSeconds ?? DEFAULT_ROTATION_GRACE_S;
    const key = await app.svc.apiKeys.rotate(request.params.id, grace, request.caller!);
    await app.svc.audit.record(request, 'api_key.rotated', key.id, key.projectId, { graceSeconds: grace, previousKeyValidUntil: key.previousKeyValidUntil });
    return withBudgets(key);
  });
}
