import { bigint, index, jsonb, pgTable, primaryKey, text, timestamptz } from '../columns.js';
import { DEFAULT_PROJECT } from '../../llm/hash.js';

/** Projects (tenants): every key belongs to one, and sees only its project's objects. */
export const projects = pgTable('projects', {
  /** `prj_…`; the one existing data migrated into is `default`. */
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  createdAt: timestamptz('created_at').notNull().defaultNow(),
  updatedAt: timestamptz('updated_at').notNull().defaultNow(),
});

export const KEY_ROLES = ['admin', 'member'] as const;

/** Queue classes of generations, highest first (src/queue/fairness.ts maps them onto BullMQ priorities). */
export const PRIORITIES = ['high', 'normal', 'low'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** API keys: only the SHA-256 of a key is kept; the key itself is shown once. */
export const apiKeys = pgTable('api_keys', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  tier: text('tier', { enum: ['free', 'pro', 'enterprise'] }).notNull(),
  keyHash: text('key_hash').notNull().unique(),
  /** `provider/model` glob patterns this key may use; null: its tier's (MODELS_<TIER>). */
  allowedModels: jsonb('allowed_models').$type<string[]>(),
  /** Queue class of this key's generations when a request names none; null: its tier's (PRIORITY_<TIER>). */
  priority: text('priority', { enum: PRIORITIES }),
  /**
   * The key's Standard Webhooks signing secret (`whsec_` + base64 of 32 random bytes), null until
   * one is created. Kept as is, not hashed: every delivery must sign with it.
   */
  webhookSecret: text('webhook_secret'),
  createdAt: timestamptz('created_at').notNull().defaultNow(),
  projectId: text('project_id').notNull().default(DEFAULT_PROJECT).references(() => projects.id),
  /** `admin`: manages its project (keys, templates, budgets, dead letters, cache); `member`: generates and reads. */
  role: text('role', { enum: KEY_ROLES }).notNull().default('admin'),
  /** The first characters of the secret, to recognise a key in a list (`pl_live_AbC…`). */
  prefix: text('prefix'),
  expiresAt: timestamptz('expires_at'),
  revokedAt: timestamptz('revoked_at'),
  lastUsedAt: timestamptz('last_used_at'),
  /** The secret before the last rotation, accepted until `previous_valid_until`. */
  previousKeyHash: text('previous_key_hash').unique(),
  previousValidUntil: timestamptz('previous_valid_until'),
}, (t) => [index('api_keys_project').on(t.projectId, t.createdAt)]);

/** One row per administrative action: who (key id), what, on which target, when, in which request. */
export const auditLog = pgTable('audit_log', {
  id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
  at: timestamptz('at').notNull().defaultNow(),
  /** The acting key: `key_…`, or `admin` for PROMPTLAB_ADMIN_KEY. */
  keyId: text('key_id').notNull(),
  /** The project acted on; null for actions on no one project (global cache clear). */
  projectId: text('project_id'),
  action: text('action').notNull(),
  target: text('target'),
  requestId: text('request_id'),
  details: jsonb('details').$type<Record<string, unknown>>(),
}, (t) => [index('audit_log_project_at').on(t.projectId, t.at.desc()), index('audit_log_at').on(t.at.desc())]);

export type ApiKeyRow = typeof apiKeys.$inferSelect;
