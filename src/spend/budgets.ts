import { and, eq, sql } from 'drizzle-orm';
import { Batcher } from '../db/batcher.js';
import { rowsOf, type Db } from '../db/client.js';
import { budgets, budgetUsage, type BUDGET_PERIODS, type BUDGET_SCOPES } from '../db/schema.js';
import { AppError } from '../errors/app-error.js';
import { worstCaseTokens, type EstimatedRequest } from '../llm/estimate.js';
import { costUsd, type ModelPrice } from '../llm/price.js';

export type BudgetScope = (typeof BUDGET_SCOPES)[number];
export type BudgetPeriod = (typeof BUDGET_PERIODS)[number];

/** A spending cap as set on a key or template. */
export interface Budget {
  usd: number;
  period: BudgetPeriod;
}

/** A budget with where it stands in its current period. */
export interface BudgetStatus extends Budget {
  spentUsd: number;
  reservedUsd: number;
  remainingUsd: number;
  resetAt: string;
}

/** One change to the budgets a generation falls under (`budget_apply`, migrations/0004_budget_functions.sql). */
export interface BudgetChange {
  apiKeyId: string;
  templateId: string | null;
  /** Released from the periods that held it (those of `releaseAt`). */
  release?: number;
  releaseAt?: Date | null;
  /** Added to what the current periods spent. */
  spend?: number;
  /** Reserved only if every budget still fits; -1: the model has no price. */
  reserve?: number | null;
}

/** What `budget_apply` answered for one change. */
export interface BudgetOutcome {
  refusal: Record<string, unknown> | null;
  /** Whether `reserve` is now held by at least one budget (false when none applies). */
  held: boolean;
}


/** The most a generation can cost: `worstCaseTokens` at the model's price; -1 when the model has no price. */
export function worstCaseUsd(price: ModelPrice | undefined, r: EstimatedRequest): number {
  if (!price) return -1;
  return costUsd(worstCaseTokens(r), price);
}

/** 402 budget_exceeded, with where the budget stands. */
export function budgetExceeded(refusal: Record<string, unknown>): AppError {
  const { unpriced, scope, ...details } = refusal as { unpriced: boolean; scope: string } & Record<string, unknown>;
  const num = (k: string) => Number(details[k]);
  return new AppError(
    'budget_exceeded',
    unpriced
      ? `The model has no price, and a ${details.period === 'day' ? 'daily' : 'monthly'} budget of this ${scope === 'template' ? 'template' : 'API key'} applies.`
      : `The ${details.period === 'day' ? 'daily' : 'monthly'} budget of this ${scope === 'template' ? 'template' : 'API key'} ($${num('budgetUsd')}) cannot hold this generation's worst case.`,
    { budgetUsd: num('budgetUsd'), spentUsd: num('spentUsd'), reservedUsd: num('reservedUsd'), period: details.period, resetAt: new Date(String(details.resetAt)).toISOString(), scope },
  );
}

/**
 * Budgets of API keys and templates (USD per UTC day or month), enforced in
 * Postgres: every reservation, release and charge goes through one function,
 * `budget_apply`, that locks the rows it touches in key order, so the
 * guarantee holds across any number of processes and needs no Redis. Calls of
 * one event-loop turn share one statement (Batcher).
 */
export class Budgets {
  readonly #apply: Batcher<BudgetChange, BudgetOutcome>;

  constructor(private readonly db: Db) {
    this.#apply = new Batcher(async (changes) => {
      const col = <T>(f: (c: BudgetChange) => T) => sql.param(changes.map(f));
      const res = await db.execute(sql`
        select idx, refusal, held from budget_apply(${col((c) => c.apiKeyId)}::text[], ${col((c) => c.templateId)}::text[],
          ${col((c) => c.release ?? 0)}::numeric[], ${col((c) => c.releaseAt?.toISOString() ?? null)}::timestamptz[],
          ${col((c) => c.spend ?? 0)}::numeric[], ${col((c) => c.reserve ?? null)}::numeric[])`);
      const out = rowsOf<{ idx: number; refusal: Record<string, unknown> | null; held: boolean }>(res);
      return changes.map((_, i) => {
        const r = out[i];
        return { refusal: r?.refusal ?? null, held: r?.held ?? false };
      });
    }, { maxInFlight: 2 });
  }

  /** Reserves `usd` (the worst case, or -1 unpriced) in every budget of the key and template; 402 when one cannot hold it. Resolves to whether anything is held. */
  async reserve(apiKeyId: string, templateId: string | null, usd: number): Promise<boolean> {
    const o = await this.#apply.push({ apiKeyId, templateId, reserve: usd });
    if (o.refusal) throw budgetExceeded(o.refusal);
    return o.held;
  }

  /** Any change (release, spend, reserve); the worker's settlements go through the Ledger's statements instead. */
  apply(change: BudgetChange): Promise<BudgetOutcome> {
    return this.#apply.push(change);
  }

  /** Replaces the budgets of a key or template (an empty list removes them). */
  async set(scope: BudgetScope, scopeId: string, list: readonly Budget[]): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.delete(budgets).where(and(eq(budgets.scope, scope), eq(budgets.scopeId, scopeId)));
      if (list.length) await tx.insert(budgets).values(list.map((b) => ({ scope, scopeId, period: b.period, usd: b.usd })));
    });
  }

  /**
   * The budgets a project admin may give a key (creating it, or changing its budgets): at most its
   * own, period by period. A period the admin's key has a budget for and `asked` leaves out takes the
   * admin's budget; one `asked` sets above it is a 403. An admin key without budgets is not capped.
   * So no project admin can mint or change a key to spend more than it may itself.
   */
  async capped(adminKeyId: string, asked: readonly Budget[] | undefined): Promise<Budget[] | undefined> {
    const cap = await this.status('api_key', adminKeyId);
    if (!cap.length) return asked ? [...asked] : undefined;
    const out = [...(asked ?? [])];
    for (const c of cap) {
      const mine = out.find((b) => b.period === c.period);
      if (!mine) out.push({ usd: c.usd, period: c.period });
      else if (mine.usd > c.usd) {
        throw new AppError('forbidden', `A project admin may give a key at most its own budgets: its ${c.period === 'day' ? 'daily' : 'monthly'} budget is $${c.usd}, not $${mine.usd}.`,
          { period: c.period, limitUsd: c.usd });
      }
    }
    return out;
  }

  /** The budgets of a key or template, with spent, reserved and remaining in their current periods. */
  async status(scope: BudgetScope, scopeId: string): Promise<BudgetStatus[]> {
    const res = await this.db.execute(sql`
      select b.period, b.usd::float8 as usd, coalesce(u.spent_usd, 0)::float8 as spent, coalesce(u.reserved_usd, 0)::float8 as reserved,
        (budget_period_start(b.period, now()) + case b.period when 'day' then interval '1 day' else interval '1 month' end) at time zone 'UTC' as reset_at
      from ${budgets} b left join ${budgetUsage} u on u.scope = b.scope and u.scope_id = b.scope_id and u.period = b.period
        and u.period_start = budget_period_start(b.period, now())
      where b.scope = ${scope} and b.scope_id = ${scopeId} order by b.period`);
    return rowsOf<{ period: BudgetPeriod; usd: number; spent: number; reserved: number; reset_at: string | Date }>(res).map((r) => ({
      usd: r.usd, period: r.period, spentUsd: r.spent, reservedUsd: r.reserved,
      remainingUsd: Math.max(0, Math.round((r.usd - r.spent - r.reserved) * 1e9) / 1e9), resetAt: new Date(r.reset_at).toISOString(),
    }));
  }
}
