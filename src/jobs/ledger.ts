import { and, eq, gt, or, sql, type SQL } from 'drizzle-orm';
import { Batcher } from '../db/batcher.js';
import { rowsOf, type Db } from '../db/client.js';
import type { Scope } from '../auth/caller.js';
import { DEFAULT_PROJECT, generations, IN_FLIGHT_SQL, inputSlots, NO_TEMPLATE, type GenerationRow, type Priority } from '../db/schema.js';
import { promptOf } from '../llm/message.js';
import { type FinishReason } from '../llm/result.js';
import type { GenerationJobData } from '../queue/queues.js';
import { encodeResult, storableMessage } from './result-codec.js';

/** A generation as admitted: the job's data, the template version it was rendered from (if any), and what its first attempt holds of its budgets. */
export type Admission = GenerationJobData & {
  templateVersion: number | null;
  reservedUsd?: number;
  priority?: Priority;
  batchId?: string;
  /**
   * Admit only if no budget applies to the key or template (checked in the same statement):
   * a request that holds nothing in any budget needs no statement of its own to find that out.
   */
  unlessBudgeted?: boolean;
};

/** What `Ledger.admit` did: admitted, not (the slot is taken), or not because a budget applies (`unlessBudgeted`). */
export type AdmitOutcome = boolean | 'budgeted';

export interface Completion {
  id: string;
  text: string;
  json: unknown;
  finishReason: FinishReason;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  /** No price was known for the model: `costUsd` is 0 and the attempt is counted as unpriced. */
  unpriced?: boolean;
}

/** What the cache needs of a row just completed (the totals include earlier failed attempts). */
export interface Completed {
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  completedAt: Date;
}

/** A failed attempt as recorded: `final` settles the row `dead` and opens its input's slot. */
export interface Failed {
  id: string;
  final: boolean;
  /** Settle `canceled` instead of `dead` (a cancel, or its deadline); a cancel requested on the row does too. */
  canceled?: boolean;
  /** Only rows in these statuses (a cancel from the API takes only those no attempt holds). @defaultValue IN_FLIGHT */
  from?: readonly ('queued' | 'failed' | 'active')[];
  code: string;
  message: string;
  /** Tokens the provider still charged for this attempt, and their price. */
  paid?: { inputTokens: number; outputTokens: number; costUsd: number; unpriced?: boolean };
  /** The next attempt's worst case, to hold in the budgets before it may run (-1: unpriced). */
  again?: number;
}

/** What a claim found: see `Ledger.claim`. */
export type Claim = 'claimed' | 'settled' | 'busy' | 'cancel';

/** What answers an input that was not admitted: the generation holding its slot. */
export type SlotAnswer = { state: 'in_flight'; id: string; status: string } | { state: 'completed'; row: GenerationRow };

/**
 * The hot writes of the generations table, each coalesced across concurrent
 * callers into one statement (see Batcher). Admission and every settling write
 * change the generation row and its input's slot (`input_slots`) in the same
 * statement, so the slot always tells the truth about its input: in flight,
 * completed and fresh until `expires_at`, or open. Every write is guarded by
 * the in-flight statuses, so it can neither resurrect a settled row nor settle
 * one twice.
 */
export class Ledger {
  readonly #admit: Batcher<Admission, AdmitOutcome>;
  readonly #claim: Batcher<string, Claim>;
  readonly #complete: Batcher<Completion, Completed | undefined>;

  /**
   * @param staleClaimMs - how old an `active` row's claim must be before another run may take it:
   * the BullMQ lock (WORKER_LOCK_DURATION_MS), after which a run that stopped renewing it is dead.
   * @defaultValue 30000
   */
  constructor(private readonly db: Db, readonly staleClaimMs = 30_000) {
    this.#admit = new Batcher((rows) => this.#admitRows(rows), { maxInFlight: 4 });

    // A row is claimed only when no attempt holds it: queued, failed (a retry is due), or active with a
    // claim older than the BullMQ lock, whose worker must have died (BullMQ hands a stalled job on only then).
    this.#claim = new Batcher(async (ids) => {
      const res = await db.execute(sql`
        with c as (
          update generations set status = 'active', attempts = attempts + 1, started_at = coalesce(started_at, now()), claimed_at = now()
          where id = any(${sql.param(ids)}::text[]) and cancel_requested_at is null and coalesce(cancel_at > now(), true) and (status in ('queued', 'failed')
            or (status = 'active' and coalesce(claimed_at, started_at, created_at) < now() - make_interval(secs => ${this.staleClaimMs / 1000})))
          returning id
        )
        select g.id, c.id is not null as claimed, g.status in ('completed', 'dead', 'canceled') as settled,
          (g.cancel_requested_at is not null or g.cancel_at <= now()) as cancel
        from generations g left join c on c.id = g.id where g.id = any(${sql.param(ids)}::text[])`);
      const byId = new Map(rowsOf<{ id: string; claimed: boolean; settled: boolean; cancel: boolean }>(res)
        .map((r) => [r.id, r.claimed ? 'claimed' : r.settled ? 'settled' : r.cancel ? 'cancel' : 'busy'] as const));
      return ids.map((id) => byId.get(id) ?? 'settled');
    }, { maxInFlight: 4 });

    this.#complete = new Batcher(async (items) => {
      const stored = items.map((i) => encodeResult(i.text, i.json));
      // One statement: the row completes, its slot turns `completed` (fresh for the row's TTL), and the
      // attempt's tokens and cost reach the day's totals, so no process death can split them.
      const res = await db.execute(sql`
        with v as (
          select * from unnest(${sql.param(items.map((i) => i.id))}::text[], ${sql.param(stored.map((s) => s.text))}::text[],
            ${sql.param(stored.map((s) => s.json))}::jsonb[], ${sql.param(stored.map((s) => s.encoding))}::text[],
            ${sql.param(items.map((i) => i.inputTokens))}::int[], ${sql.param(items.map((i) => i.outputTokens))}::int[],
            ${sql.param(items.map((i) => i.costUsd))}::numeric[], ${sql.param(items.map((i) => i.unpriced === true))}::bool[],
            ${sql.param(items.map((i) => i.finishReason))}::text[])
            as v(id, text, json, enc, it, ot, cost, unpriced, finish)
        ), done as (
          update generations g set status = 'completed', result_text = v.text, result_json = v.json, result_encoding = v.enc, finish_reason = v.finish,
            error_code = null, error_message = null, completed_at = now(), unpriced = g.unpriced or v.unpriced,
            input_tokens = g.input_tokens + v.it, output_tokens = g.output_tokens + v.ot, cost_usd = g.cost_usd + v.cost
          from v where g.id = v.id and g.status in ${IN_FLIGHT_SQL}
          returning g.id, g.input_hash, g.cache_ttl_seconds, g.input_tokens, g.output_tokens, g.cost_usd, g.completed_at,
            g.api_key_id, g.template_id, g.reserved_usd, g.reserved_at
        ), slot as (
          update input_slots s set state = 'completed', expires_at = done.completed_at + make_interval(secs => done.cache_ttl_seconds)
          from done where s.input_hash = done.input_hash and s.generation_id = done.id
        ), spend as (${spendOf(sql`select done.api_key_id as k, done.template_id as t, v.it, v.ot, v.cost, v.unpriced from done join v on v.id = done.id`)}
        ), budget as (
          select count(*) as n from (select array_agg(done.api_key_id) k, array_agg(done.template_id) t, array_agg(done.reserved_usd) r,
            array_agg(done.reserved_at) ra, array_agg(v.cost) c from done join v on v.id = done.id) a,
            budget_apply(a.k, a.t, a.r, a.ra, a.c, array_fill(null::numeric, array[coalesce(cardinality(a.k), 0)]))
        )
        select id, input_tokens, output_tokens, cost_usd, completed_at from done, budget`);
      const byId = new Map(
        rowsOf<{ id: string; input_tokens: number; output_tokens: number; cost_usd: string; completed_at: string | Date }>(res).map((r) => [r.id, {
          inputTokens: r.input_tokens, outputTokens: r.output_tokens, costUsd: Number(r.cost_usd), completedAt: new Date(r.completed_at),
        }]),
      );
      return items.map((i) => byId.get(i.id));
    }, { maxInFlight: 4 });
  }

  /**
   * One statement admits a batch: each row takes its input's slot, inserting
   * it or taking over one that is open, or completed and past its TTL (or any
   * completed one for a `refresh`). ON CONFLICT DO UPDATE locks the slot and
   * evaluates its WHERE on the latest committed version, so a completion that
   * commits while this statement runs is seen: the input is answered by that
   * result, never admitted again. Rows of a batch with the same hash are left
   * to the first. A row `unlessBudgeted` that a budget applies to (of its key or
   * template) is neither inserted nor takes the slot: `budgeted`.
   */
  async #admitRows(rows: Admission[]): Promise<AdmitOutcome[]> {
    const first = new Map<string, Admission>();
    for (const r of rows) if (!first.has(r.inputHash)) first.set(r.inputHash, r);
    const v = [...first.values()];
    const col = <T>(f: (r: Admission) => T) => sql.param(v.map(f));
    const res = await this.db.execute(sql`
      with v as (
        select * from unnest(${col((r) => r.id)}::text[], ${col((r) => r.templateId)}::text[], ${col((r) => r.templateVersion)}::int[],
          ${col((r) => r.provider)}::text[], ${col((r) => r.model)}::text[], ${col((r) => r.inputHash)}::text[],
          ${col((r) => r.system)}::text[], ${col((r) => JSON.stringify(r.messages))}::jsonb[], ${col((r) => promptOf(r.messages))}::text[],
          ${col((r) => r.maxTokens)}::int[], ${col((r) => r.temperature)}::float8[], ${col((r) => r.topP ?? null)}::float8[],
          ${col((r) => (r.stop ? JSON.stringify(r.stop) : null))}::jsonb[], ${col((r) => (r.outputSchema ? JSON.stringify(r.outputSchema) : null))}::jsonb[],
          ${col((r) => r.cacheTtlSeconds)}::int[], ${col((r) => r.apiKeyId)}::text[], ${col((r) => r.requestId ?? null)}::text[],
          ${col((r) => r.refresh === true)}::bool[], ${col((r) => r.reservedUsd ?? 0)}::numeric[], ${col((r) => r.unlessBudgeted === true)}::bool[],
          ${col((r) => r.projectId ?? DEFAULT_PROJECT)}::text[],
          ${col((r) => r.priority ?? 'normal')}::text[], ${col((r) => (r.cancelAt !== undefined ? new Date(r.cancelAt).toISOString() : null))}::timestamptz[],
          ${col((r) => r.batchId ?? null)}::text[])
          as v(id, tid, tv, p, m, h, sys, msgs, pr, mt, temp, topp, stop, os, ttl, k, rid, refresh, reserved, guard, prj, prio, cancel_at, bid)
      ), budgeted as (
        select v.id from v where v.guard and exists (select 1 from budgets b
          where (b.scope = 'api_key' and b.scope_id = v.k) or (b.scope = 'template' and b.scope_id = v.tid))
      ), slot as (
        insert into input_slots as s (input_hash, generation_id, state)
        select h, id, 'in_flight' from v where v.id not in (select id from budgeted)
        on conflict (input_hash) do update set generation_id = excluded.generation_id, state = 'in_flight', expires_at = null
        where s.state = 'open' or (s.state = 'completed' and (s.expires_at <= now()
          or (select refresh from v where v.h = excluded.input_hash)))
        returning generation_id
      ), ins as (
        insert into generations (id, template_id, template_version, provider, model, input_hash, status, system, messages, prompt,
          max_tokens, temperature, top_p, stop, output_schema, cache_ttl_seconds, api_key_id, request_id, reserved_usd, reserved_at, project_id, priority, cancel_at, batch_id)
        select id, tid, tv, p, m, h, 'queued', sys, msgs, pr, mt, temp, topp, stop, os, ttl, k, rid, reserved, case when reserved > 0 then now() end, prj, prio, cancel_at, bid
        from v join slot on slot.generation_id = v.id
        returning id
      )
      select id, true as admitted from ins union all select id, false from budgeted`);
    const got = new Map(rowsOf<{ id: string; admitted: boolean }>(res).map((r) => [r.id, r.admitted ? true : 'budgeted' as const]));
    return rows.map((r) => got.get(r.id) ?? false);
  }

  /**
   * Inserts a `queued` row holding its input's slot; false when the input is in flight or has a fresh result;
   * `budgeted` (only for a row `unlessBudgeted`) when a budget applies to it, which must be held first.
   */
  admit(row: Admission): Promise<AdmitOutcome> {
    return this.#admit.push(row);
  }

  /**
   * `admit` for many rows at once (a batch): statements of up to 2,000 rows, each one multi-row
   * INSERT as `admit` runs, without waiting for the Batcher's turns.
   */
  async admitMany(rows: Admission[]): Promise<boolean[]> {
    const out: boolean[] = [];
    for (let i = 0; i < rows.length; i += 2000) out.push(...(await this.#admitRows(rows.slice(i, i + 2000))).map((o) => o === true));
    return out;
  }

  /** `answerOf` for many inputs in one statement: what holds each slot that answers now (absent: none). */
  async answersOf(inputHashes: string[]): Promise<Map<string, SlotAnswer>> {
    const out = new Map<string, SlotAnswer>();
    for (let i = 0; i < inputHashes.length; i += 5000) {
      const rows = await this.db
        .select({ hash: inputSlots.inputHash, state: inputSlots.state, row: generations })
        .from(inputSlots)
        .innerJoin(generations, eq(generations.id, inputSlots.generationId))
        .where(and(sql`${inputSlots.inputHash} = any(${sql.param(inputHashes.slice(i, i + 5000))}::text[])`,
          or(eq(inputSlots.state, 'in_flight'), and(eq(inputSlots.state, 'completed'), gt(inputSlots.expiresAt, sql`now()`)))));
      for (const r of rows) out.set(r.hash, r.state === 'in_flight' ? { state: 'in_flight', id: r.row.id, status: r.row.status } : { state: 'completed', row: r.row });
    }
    return out;
  }

  /**
   * Generations of a batch that never started (their BullMQ jobs removed) settled `canceled`,
   * in one statement: slots opened, holds released. Rows that started meanwhile
   * are left to run. Resolves to the ids canceled.
   */
  async cancelQueued(ids: string[]): Promise<string[]> {
    if (!ids.length) return [];
    const res = await this.db.execute(sql`
      with cur as (
        select id, reserved_usd, reserved_at from generations where id = any(${sql.param(ids)}::text[]) and status = 'queued' order by id for update
      ), g as (
        update generations set status = 'canceled', error_code = 'canceled', error_message = ${BATCH_CANCELED}, completed_at = now(), reserved_usd = 0
        from cur where generations.id = cur.id
        returning generations.id, generations.input_hash, generations.api_key_id, generations.template_id, cur.reserved_usd as r, cur.reserved_at
      ), slot as (
        update input_slots s set state = 'open', expires_at = null from g where s.input_hash = g.input_hash and s.generation_id = g.id
      ), budget as (
        select count(*) from (select array_agg(k) k, array_agg(t) t, array_agg(r) r, array_agg(ra) ra from
          (select api_key_id k, template_id t, r, reserved_at ra from g where r > 0 order by api_key_id) x) a,
          budget_apply(a.k, a.t, a.r, a.ra, array_fill(0::numeric, array[coalesce(cardinality(a.k), 0)]), array_fill(null::numeric, array[coalesce(cardinality(a.k), 0)]))
      )
      select id from g, (select count(*) from budget) b`);
    return rowsOf<{ id: string }>(res).map((r) => r.id);
  }

  /** What holds an input's slot when `admit` said no; undefined when the slot opened meanwhile (admit again). */
  async answerOf(inputHash: string): Promise<SlotAnswer | undefined> {
    const [hit] = await this.db
      .select({ state: inputSlots.state, row: generations })
      .from(inputSlots)
      .innerJoin(generations, eq(generations.id, inputSlots.generationId))
      .where(and(eq(inputSlots.inputHash, inputHash),
        or(eq(inputSlots.state, 'in_flight'), and(eq(inputSlots.state, 'completed'), gt(inputSlots.expiresAt, sql`now()`)))));
    if (!hit) return undefined;
    return hit.state === 'in_flight' ? { state: 'in_flight', id: hit.row.id, status: hit.row.status } : { state: 'completed', row: hit.row };
  }

  /**
   * Marks an attempt started (`active`, attempts + 1, `claimed_at`): `claimed`; `settled` when the row
   * already completed, died or was canceled; `busy` when another run holds it (a duplicate of the job, after Redis
   * lost it), so that two runs never call the provider for one generation at once; `cancel` when a cancel
   * or its `Cancel-After` deadline reached it and it is still in flight (the caller settles it `canceled`).
   */
  claim(id: string): Promise<Claim> {
    return this.#claim.push(id);
  }

  /** Stores the result, once, and makes it the answer of its input until the TTL; undefined when the row had already settled. */
  complete(c: Completion): Promise<Completed | undefined> {
    return this.#complete.push(c);
  }

  /** Records a failed attempt (and what it cost); a final one settles the row `dead` and opens its slot. False when already settled. */
  async fail(f: Failed): Promise<{ settled: boolean; dead: boolean; canceled: boolean; overBudget: boolean }> {
    const p = f.paid ?? { inputTokens: 0, outputTokens: 0, costUsd: 0 };
    // The attempt's hold is released and its cost charged; a retry must hold its worst case again, in the
    // same statement: a budget that can no longer hold it ends the job here (`budget_exceeded`).
    // A cancel requested while the attempt ran ends it `canceled` whatever the attempt's error.
    const again = f.final || f.canceled ? null : (f.again ?? null);
    const from = f.from ? sql.raw(`(${f.from.map((st) => `'${st}'`).join(', ')})`) : IN_FLIGHT_SQL;
    const res = await this.db.execute(sql`
      with cur as (
        select id, api_key_id, template_id, reserved_usd, reserved_at,
          (${f.canceled === true}::bool or cancel_requested_at is not null or cancel_at <= now()) as cancel from generations
        where id = ${f.id} and status in ${from} for update
      ), budget as (
        select b.refusal, b.held from cur, budget_apply(array[cur.api_key_id], array[cur.template_id], array[cur.reserved_usd],
          array[cur.reserved_at], array[${p.costUsd}::numeric], array[case when cur.cancel then null else ${again}::numeric end]) b
      ), g as (
        update generations set
          status = case when cur.cancel then 'canceled' when ${f.final}::bool or (select refusal from budget) is not null then 'dead' else 'failed' end,
          error_code = case when cur.cancel then 'canceled' when (select refusal from budget) is not null then 'budget_exceeded' else ${f.code} end,
          error_message = case when cur.cancel then ${CANCELED} when (select refusal from budget) is not null then ${OVER_BUDGET} else ${storableMessage(f.message)} end,
          completed_at = case when cur.cancel or ${f.final}::bool or (select refusal from budget) is not null then now() end,
          reserved_usd = case when (select held from budget) and not cur.cancel then ${again ?? 0}::numeric else 0 end, reserved_at = now(),
          unpriced = unpriced or ${p.unpriced === true}::bool,
          input_tokens = input_tokens + ${p.inputTokens}, output_tokens = output_tokens + ${p.outputTokens}, cost_usd = cost_usd + ${p.costUsd}
        from cur where generations.id = cur.id
        returning generations.id, generations.input_hash, generations.api_key_id, generations.template_id, generations.status
      ), slot as (
        update input_slots s set state = 'open', expires_at = null
        from g where g.status in ('dead', 'canceled') and s.input_hash = g.input_hash and s.generation_id = g.id
      ), spend as (${spendOf(sql`select api_key_id as k, template_id as t, ${p.inputTokens}::int as it, ${p.outputTokens}::int as ot,
          ${p.costUsd}::numeric as cost, ${p.unpriced === true}::bool as unpriced from g where ${f.paid !== undefined}::bool`)})
      select g.status, (select refusal from budget) is not null and g.status = 'dead' as over from g`);
    const [row] = rowsOf<{ status: string; over: boolean }>(res);
    return { settled: !!row, dead: row?.status === 'dead', canceled: row?.status === 'canceled', overBudget: row?.over === true };
  }

  /**
   * Another request is answered by the in-flight generation `id`: one more subscriber;
   * its class raised to `priority` when that is higher (`raised`); its deadline the later
   * of both, none when the joiner has none. Undefined when the row settled meanwhile.
   */
  async join(id: string, priority: Priority, cancelAt: Date | null): Promise<{ raised: boolean; status: string } | undefined> {
    const res = await this.db.execute(sql`
      with o as (select id, priority as old from generations where id = ${id} and status in ${IN_FLIGHT_SQL} for update)
      update generations g set subscribers = g.subscribers + 1,
        priority = case when ${RANK(sql`${priority}::text`)} < ${RANK(sql`o.old`)} then ${priority}::text else o.old end,
        cancel_at = case when g.cancel_at is null or ${cancelAt?.toISOString() ?? null}::timestamptz is null then null
          else greatest(g.cancel_at, ${cancelAt?.toISOString() ?? null}::timestamptz) end
      from o where g.id = o.id
      returning g.status, g.priority <> o.old as raised`);
    const [row] = rowsOf<{ status: string; raised: boolean }>(res);
    return row;
  }

  /**
   * A caller gives up on the generation `id`: \`detached\` when others still wait for it (one
   * subscriber fewer); else \`canceled\` when no attempt holds it (queued, or failed and waiting
   * for its retry: settled at once, its hold released and its slot opened), \`aborting\` when an
   * attempt runs (marked; its worker aborts the call and settles the row); \`settled\` when it had ended.
   */
  async cancel(id: string): Promise<'detached' | 'canceled' | 'aborting' | 'settled'> {
    const detached = await this.db.execute(sql`
      update generations set subscribers = subscribers - 1
      where id = ${id} and status in ${IN_FLIGHT_SQL} and subscribers > 1 and cancel_requested_at is null returning id`);
    if (rowsOf(detached).length) return 'detached';
    if ((await this.fail({ id, final: true, canceled: true, from: ['queued', 'failed'], code: 'canceled', message: CANCELED })).settled) return 'canceled';
    const marked = await this.db.execute(sql`
      update generations set cancel_requested_at = coalesce(cancel_requested_at, now()), subscribers = 0
      where id = ${id} and status = 'active' returning id`);
    if (rowsOf(marked).length) return 'aborting';
    // It left 'active' between the statements: a retry now waits (cancel it), or it settled.
    if ((await this.fail({ id, final: true, canceled: true, from: ['queued', 'failed'], code: 'canceled', message: CANCELED })).settled) return 'canceled';
    return 'settled';
  }

  /** Rows past their `Cancel-After` deadline that no attempt holds, for the sweeper to cancel (oldest first). */
  async overdue(limit = 500): Promise<string[]> {
    const res = await this.db.execute(sql`
      select id from generations where status in ('queued', 'failed') and cancel_at <= now() order by cancel_at limit ${limit}`);
    return rowsOf<{ id: string }>(res).map((r) => r.id);
  }

  /** A claim whose attempt never started (the worker is shutting down): undone, attempt count included. */
  async handBack(id: string): Promise<void> {
    await this.db.execute(sql`
      update generations set attempts = attempts - 1, status = case when attempts > 1 then 'failed' else 'queued' end
      where id = ${id} and status = 'active'`);
  }

  /** An `active` row whose job has ended in BullMQ (so no run holds it) made claimable again, as `failed`. */
  async unclaim(id: string): Promise<void> {
    await this.db.update(generations).set({ status: 'failed' }).where(and(eq(generations.id, id), eq(generations.status, 'active')));
  }

  /**
   * The input hashes of a project's generations (one hash, when given and the project has it):
   * what a project admin's cache clear may touch. Cache keys are input hashes, and a project's
   * hashes are its own (the project is part of the hash), so this finds its entries and no others.
   */
  async hashesOf(projectId: string, inputHash?: string): Promise<string[]> {
    const rows = await this.db.selectDistinct({ h: generations.inputHash }).from(generations)
      .where(and(eq(generations.projectId, projectId), inputHash ? eq(generations.inputHash, inputHash) : undefined));
    return rows.map((r) => r.h);
  }

  /** Opens the completed slots of `hashes` (see `expire`). */
  async expireMany(hashes: string[]): Promise<void> {
    if (!hashes.length) return;
    await this.db.update(inputSlots).set({ state: 'open', expiresAt: null })
      .where(and(eq(inputSlots.state, 'completed'), sql`${inputSlots.inputHash} = any(${sql.param(hashes)}::text[])`));
  }

  /** Cached results stop answering (admin cache clear): completed slots, of one input or all, open. */
  async expire(inputHash?: string): Promise<void> {
    await this.db.update(inputSlots).set({ state: 'open', expiresAt: null })
      .where(and(eq(inputSlots.state, 'completed'), inputHash ? eq(inputSlots.inputHash, inputHash) : undefined));
  }

  /**
   * A dead generation queued again (replay): it takes its input's slot unless
   * another generation of that input is in flight (resolves to that one's id).
   */
  async requeue(id: string, scope: Scope): Promise<{ row: GenerationRow } | { inFlight: string } | undefined> {
    const project = scope.projectId === null ? sql`true` : sql`project_id = ${scope.projectId}`;
    const res = await this.db.execute(sql`
      with dead as (select id, input_hash from generations where id = ${id} and status = 'dead' and ${project}),
      slot as (
        insert into input_slots as s (input_hash, generation_id, state)
        select input_hash, id, 'in_flight' from dead
        on conflict (input_hash) do update set generation_id = excluded.generation_id, state = 'in_flight', expires_at = null
        where s.state <> 'in_flight'
        returning generation_id
      )
      update generations g set status = 'queued', error_code = null, error_message = null, completed_at = null
      from slot where g.id = slot.generation_id and g.status = 'dead'
      returning g.id`);
    if (rowsOf(res).length) {
      const [row] = await this.db.select().from(generations).where(eq(generations.id, id));
      return { row: row! };
    }
    const twin = await this.db.execute(sql`
      select s.generation_id from generations d join input_slots s on s.input_hash = d.input_hash
      where d.id = ${id} and d.status = 'dead' and s.state = 'in_flight' and ${project}`);
    const [t] = rowsOf<{ generation_id: string }>(twin);
    return t ? { inFlight: t.generation_id } : undefined;
  }
}

const CANCELED = 'Canceled: by POST /v1/jobs/:id/cancel or its Cancel-After deadline';
const BATCH_CANCELED = 'Canceled with its batch before it started';
const OVER_BUDGET = 'A retry was due, but a budget this generation falls under can no longer hold its worst case';

/**
 * The upsert that adds attempts' tokens and cost (`rows`: k, t, it, ot, cost,
 * unpriced; t null: no template, `NO_TEMPLATE`) to today's `usage_daily`, in the statement that records them on
 * their rows. Ordered by key, as every writer of usage_daily is, so concurrent
 * statements lock its rows in one order.
 */
/** A class's rank, highest first (\`PRIORITIES\`' order), for comparing classes in SQL. */
const RANK = (v: SQL) => sql`array_position(array['high', 'normal', 'low']::text[], ${v})`;
const NO_TEMPLATE_SQL = sql.raw(`'${NO_TEMPLATE}'`);
const spendOf = (rows: SQL) => sql`
  insert into usage_daily as u (day, api_key_id, template_id, input_tokens, output_tokens, cost_usd, unpriced)
  select (now() at time zone 'utc')::date, r.k, coalesce(r.t, ${NO_TEMPLATE_SQL}), sum(r.it), sum(r.ot), sum(r.cost), count(*) filter (where r.unpriced)
  from (${rows}) r group by r.k, coalesce(r.t, ${NO_TEMPLATE_SQL}) order by r.k, coalesce(r.t, ${NO_TEMPLATE_SQL})
  on conflict (day, api_key_id, template_id) do update set
    input_tokens = u.input_tokens + excluded.input_tokens, output_tokens = u.output_tokens + excluded.output_tokens,
    cost_usd = u.cost_usd + excluded.cost_usd, unpriced = u.unpriced + excluded.unpriced`;
