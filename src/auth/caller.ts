import { DEFAULT_PROJECT } from '../db/schema.js';

/** Rate-limit tiers of API keys. */
export const TIERS = ['free', 'pro', 'enterprise'] as const;
export type Tier = (typeof TIERS)[number];

/** `global_admin`: PROMPTLAB_ADMIN_KEY; `admin` and `member`: a project's keys (see docs/projects-and-keys.md). */
export type Role = 'global_admin' | 'admin' | 'member';

/** Who is calling, as the auth hook resolved it from `Authorization: Bearer <key>`. */
export interface Caller {
  /** API key id (`key_…`), or `admin` for PROMPTLAB_ADMIN_KEY. Never the key itself. */
  keyId: string;
  tier: Tier;
  /** The global admin key (PROMPTLAB_ADMIN_KEY). */
  admin: boolean;
  role: Role;
  /**
   * The project the caller acts in and is confined to. A project key: its own. The global admin key:
   * the project named by `X-PromptLab-Project`, or null (every project) without the header.
   */
  projectId: string | null;
  /** The key's own `provider/model` patterns; undefined: its tier's (see spend/allow-list.ts). */
  allowedModels?: string[];
  /** The key's own queue class; undefined: its tier's (PRIORITY_<TIER>). */
  priority?: 'high' | 'normal' | 'low';
}

/**
 * What a caller may read: `{ projectId }` confines every query to one project; `{ projectId: null }`
 * (the global admin without `X-PromptLab-Project`) reads across projects. Services take a Scope and
 * put it in their SQL, so an object of another project is not found, by construction.
 */
export interface Scope {
  projectId: string | null;
}

/** A scope across every project: for the system's own reads (a job it just admitted), never a caller's. */
export const EVERY_PROJECT: Scope = Object.freeze({ projectId: null });

/** The project a caller's new objects (templates, generations, keys) go to: its own, or `default` for the global admin without a header. */
export const homeProject = (caller: Pick<Caller, 'projectId'>): string => caller.projectId ?? DEFAULT_PROJECT;

/**
 * Whose Idempotency-Keys a request's are: a project key's own (a key lives in one project); the
 * admin key's per project it acts in, so a replay never crosses projects.
 */
export const idempotencyOwner = (caller: Pick<Caller, 'keyId' | 'admin' | 'projectId'>): string =>
  caller.admin && caller.projectId !== null ? `${caller.keyId}@${caller.projectId}` : caller.keyId;

/** May manage the project (keys, templates, budgets, dead letters, cache): a project admin or the global admin. */
export const isProjectAdmin = (caller: Pick<Caller, 'role'>): boolean => caller.role !== 'member';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook on `/v1` routes; undefined on open routes. */
    caller?: Caller;
  }
}
