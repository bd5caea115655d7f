import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { AppError } from '../errors/app-error.js';
import { RoutingDocument } from '../routing/document.js';
import { RoutingProblems } from '../routing/service.js';
import { errorResponses } from './schemas.js';

const Version = Type.Object({
  version: Type.Integer(),
  source: Type.Enum(['file', 'api']),
  createdBy: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
});
const InForce = Type.Object({ version: Type.Union([Type.Integer(), Type.Null()]), document: Type.Union([RoutingDocument, Type.Null()]) });
const DeploymentHealth = Type.Object({
  name: Type.String({ description: 'Its name (a project\'s own: `project/name`)' }),
  provider: Type.String(),
  model: Type.String(),
  weight: Type.Number(),
  rpm: Type.Union([Type.Integer(), Type.Null()]),
  tpm: Type.Union([Type.Integer(), Type.Null()]),
  coolingUntil: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  calls: Type.Record(Type.String(), Type.Integer(), { description: 'Calls of the last 5 minutes, by outcome (ok, 429, 5xx, timeout, error, context), all workers' }),
  latencyEwmaMs: Type.Union([Type.Number(), Type.Null()]),
  inFlight: Type.Integer({ description: 'Calls in flight from this process' }),
});

/**
 * The routing document (model groups, fallbacks, outbound limits): read, replaced and its
 * deployments' health, by the admin key alone. A new document is checked whole first (a 400
 * naming each problem), kept as a new version and put in force in every process.
 */
export default async function routingRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['routing'];
  const iso = (d: Date) => d.toISOString();

  app.get('/v1/routes', {
    config: { admin: true },
    schema: { tags, summary: 'The routing document in force and its version (admin key)', response: { 200: InForce, ...errorResponses('forbidden') } },
  }, async () => {
    const row = await app.svc.routing.store.latest();
    return { version: row?.version ?? null, document: row?.document ?? null };
  });

  app.put('/v1/routes', {
    config: { admin: true },
    bodyLimit: 4 * 1024 * 1024,
    schema: {
      tags, summary: 'Put a new routing document in force (admin key): checked whole, kept as a new version, loaded by every process',
      body: RoutingDocument,
      response: { 200: Type.Object({ version: Type.Integer() }), ...errorResponses('bad_request', 'invalid_json', 'forbidden', 'payload_too_large', 'unsupported_media_type') },
    },
  }, async (request) => {
    try {
      const version = await app.svc.routing.put(request.body, request.caller!.keyId);
      await app.svc.audit.record(request, 'routes.changed', String(version), null, { groups: request.body.groups.length, deployments: request.body.deployments.length });
      return { version };
    } catch (err) {
      if (err instanceof RoutingProblems) throw new AppError('bad_request', `The routing document has ${err.problems.length} problem(s): ${err.problems[0]}`, { problems: err.problems.slice(0, 50) });
      throw err;
    }
  });

  app.get('/v1/routes/versions', {
    config: { admin: true },
    schema: { tags, summary: 'The routing document\'s versions, newest first (admin key)', response: { 200: Type.Object({ data: Type.Array(Version) }), ...errorResponses('forbidden') } },
  }, async () => ({
    data: (await app.svc.routing.store.list()).map((r) => ({ version: r.version, source: r.source, createdBy: r.createdBy, createdAt: iso(r.createdAt) })),
  }));

  app.get('/v1/routes/health', {
    config: { admin: true },
    schema: {
      tags, summary: "Each deployment's health: cooling down or not, the last 5 minutes' calls by outcome, latency (admin key)",
      response: { 200: Type.Object({ version: Type.Union([Type.Integer(), Type.Null()]), deployments: Type.Array(DeploymentHealth) }), ...errorResponses('forbidden') },
    },
  }, async () => {
    const { routing } = app.svc;
    const table = routing.table;
    const deployments = await Promise.all((table?.deployments() ?? []).map(async ([name, d]) => {
      const health = await routing.health.read(d.def.name);
      const until = routing.chooser.coolingUntil(d.def.name);
      return {
        name, provider: d.def.provider, model: d.def.model, weight: d.weight, rpm: d.def.rpm ?? null, tpm: d.def.tpm ?? null,
        coolingUntil: until ? new Date(until).toISOString() : null, ...health, inFlight: routing.chooser.inFlight(d.def.name),
      };
    }));
    return { version: table?.version ?? null, deployments };
  });
}
