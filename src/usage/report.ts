import { and, eq, gte, inArray, lte, sql, type SQL } from 'drizzle-orm';
import type { Caller } from '../auth/caller.js';
import type { Db } from '../db/client.js';
import { apiKeys, NO_TEMPLATE, usageDaily } from '../db/schema.js';

const sums = {
  requests: sql<number>`coalesce(sum(${usageDaily.requests}), 0)::float8`,
  cacheHits: sql<number>`coalesce(sum(${usageDaily.cacheHits}), 0)::float8`,
  inputTokens: sql<number>`coalesce(sum(${usageDaily.inputTokens}), 0)::float8`,
  outputTokens: sql<number>`coalesce(sum(${usageDaily.outputTokens}), 0)::float8`,
  costUsd: sql<number>`coalesce(sum(${usageDaily.costUsd}), 0)::float8`,
  savedUsd: sql<number>`coalesce(sum(${usageDaily.savedUsd}), 0)::float8`,
  unpriced: sql<number>`coalesce(sum(${usageDaily.unpriced}), 0)::float8`,
};

/**
 * GET /v1/usage: spend between two days (inclusive): a member's own key; every key of its project
 * for a project admin (and for the admin key with X-PromptLab-Project); every key for the admin key.
 */
export async function usageReport(db: Db, caller: Caller, from: string, to: string) {
  const where: SQL[] = [gte(usageDaily.day, from), lte(usageDaily.day, to)];
  if (caller.role === 'member') where.push(eq(usageDaily.apiKeyId, caller.keyId));
  else if (caller.projectId !== null) {
    where.push(inArray(usageDaily.apiKeyId, db.select({ id: apiKeys.id }).from(apiKeys).where(eq(apiKeys.projectId, caller.projectId))));
  }
  const w = and(...where);
  const [[totals], byDay, byApiKey, byTemplate] = await Promise.all([
    db.select(sums).from(usageDaily).where(w),
    db.select({ day: usageDaily.day, ...sums }).from(usageDaily).where(w).groupBy(usageDaily.day).orderBy(usageDaily.day),
    db.select({ apiKeyId: usageDaily.apiKeyId, ...sums }).from(usageDaily).where(w).groupBy(usageDaily.apiKeyId).orderBy(usageDaily.apiKeyId),
    db.select({ templateId: usageDaily.templateId, ...sums }).from(usageDaily).where(w).groupBy(usageDaily.templateId).orderBy(usageDaily.templateId),
  ]);
  return { from, to, totals: totals!, byDay, byApiKey, byTemplate: byTemplate.map((t) => ({ ...t, templateId: t.templateId === NO_TEMPLATE ? null : t.templateId })) };
}
