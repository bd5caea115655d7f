/** Rate-limit tiers of API keys. */
export const TIERS = ['free', 'pro', 'enterprise'] as const;
export type Tier = (typeof TIERS)[number];

/** Who is calling, as the auth hook resolved it from `Authorization: Bearer <key>`. */
export interface Caller {
  /** API key id (`key_…`), or `admin` for PROMPTLAB_ADMIN_KEY. Never the key itself. */
  keyId: string;
  tier: Tier;
  admin: boolean;
  /** The key's own `provider/model` patterns; undefined: its tier's (see spend/allow-list.ts). */
  allowedModels?: string[];
  /** The key's own queue class; undefined: its tier's (PRIORITY_<TIER>). */
  priority?: 'high' | 'normal' | 'low';
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook on `/v1` routes; undefined on open routes. */
    caller?: Caller;
  }
}
