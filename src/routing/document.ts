import { Type, type Static } from 'typebox';

/**
 * The routing document (`ROUTES_FILE`, `PUT /v1/routes`): deployments (one upstream account and
 * model each) and model groups (a public model name served by several deployments, with fallback
 * groups), and what a project may use or re-map. docs/routing.md is its reference.
 */
const Name = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$', description: 'Letters, digits, `.`, `_`, `:`, `-`; no `/`' });
const UsdPerMTok = Type.Number({ minimum: 0, maximum: 1_000_000 });

export const DEPLOYMENT_KINDS = ['openai', 'openai-compatible', 'anthropic', 'fake'] as const;

export const Deployment = Type.Object({
  name: Name,
  provider: Type.Enum([...DEPLOYMENT_KINDS], { description: 'The wire format of the upstream: `openai` (api.openai.com unless baseUrl), `openai-compatible`, `anthropic`, `fake` (offline)' }),
  baseUrl: Type.Optional(Type.String({ pattern: '^https?://', maxLength: 2000, description: 'The API root (with `/v1` for the OpenAI formats); required for openai-compatible' })),
  apiKeyEnv: Type.Optional(Type.String({ pattern: '^[A-Z_][A-Z0-9_]{0,127}$', description: 'The name of the environment variable holding the key (never the key)' })),
  model: Type.String({ minLength: 1, maxLength: 200, description: 'The model name upstream' }),
  price: Type.Optional(Type.Object({ input: UsdPerMTok, output: UsdPerMTok, cacheRead: Type.Optional(UsdPerMTok), cacheWrite: Type.Optional(UsdPerMTok) }, { additionalProperties: false })),
  rpm: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000, description: "The upstream account's requests per minute: enforced on the way out" })),
  tpm: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000_000, description: "The upstream account's tokens per minute: enforced on the way out" })),
  weight: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1_000_000, default: 1 })),
  region: Type.Optional(Type.String({ maxLength: 64 })),
  timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 3_600_000, description: 'Per-call timeout; default PROVIDER_TIMEOUT_MS' })),
  latencyMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 600_000, description: 'fake only: its simulated latency' })),
}, { additionalProperties: false });
export type Deployment = Static<typeof Deployment>;

export const Group = Type.Object({
  name: Name,
  deployments: Type.Array(Name, { minItems: 1, maxItems: 100 }),
  strategy: Type.Optional(Type.Enum(['weighted', 'least-busy'], { default: 'weighted' })),
  fallbacks: Type.Optional(Type.Array(Name, { maxItems: 20, description: 'Groups tried, in order, once every deployment of this one failed or is cooling down' })),
  contextFallback: Type.Optional(Name),
  cooldownMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 3_600_000, description: 'How long a deployment that failed (429 without Retry-After, 5xx, timeout) is left out; default ROUTE_COOLDOWN_MS' })),
}, { additionalProperties: false });
export type Group = Static<typeof Group>;

export const ProjectRoutes = Type.Object({
  project: Type.String({ minLength: 1, maxLength: 80 }),
  allow: Type.Optional(Type.Array(Name, { maxItems: 1000, description: 'The only groups the project may use (default: all)' })),
  deployments: Type.Optional(Type.Array(Deployment, { maxItems: 1000, description: "The project's own deployments (its own keys: bring your own key)" })),
  groups: Type.Optional(Type.Array(Group, { maxItems: 1000, description: 'Groups of the same name as a global one re-map it for the project; others are its own' })),
}, { additionalProperties: false });
export type ProjectRoutes = Static<typeof ProjectRoutes>;

export const RoutingDocument = Type.Object({
  deployments: Type.Array(Deployment, { maxItems: 10_000 }),
  groups: Type.Array(Group, { maxItems: 10_000 }),
  projects: Type.Optional(Type.Array(ProjectRoutes, { maxItems: 10_000 })),
}, { additionalProperties: false });
export type RoutingDocument = Static<typeof RoutingDocument>;
