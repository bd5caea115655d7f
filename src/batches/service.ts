import { and, desc, eq, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { EVERY_PROJECT, homeProject, type Caller } from '../auth/caller.js';
import { rowsOf, type Db } from '../db/client.js';
import { traceCarrier } from '../telemetry/tracing.js';
import { newId } from '../db/ids.js';
import { afterCursor, pageOf } from '../db/keyset.js';
import { inScope } from '../db/scope.js';
import { batches, generations, type BatchRow, type GenerationRow, type Priority } from '../db/schema.js';
import { AppError } from '../errors/app-error.js';
import { storedRequest } from '../llm/stored.js';
import { toJobDto } from '../jobs/dto.js';
import type { Admission, Ledger, SlotAnswer } from '../jobs/ledger.js';
import { queueClass, tailPriority, type Fairness } from '../queue/fairness.js';
import { ENQUEUE_WAIT_MS, type Queues } from '../queue/queues.js';
import { TIMED_OUT, within } from '../util/within.js';
import type { TokenLimiter } from '../ratelimit/tokens.js';
import { worstCaseTokens } from '../llm/estimate.js';
import { worstCaseUsd, type Budgets } from '../spend/budgets.js';
import { admissionPrice } from '../spend/prices.js';
import type { UsageMeter } from '../usage/meter.js';
import { DEFAULT_BATCH_EVENTS, type Webhooks } from '../webhooks/service.js';
import type { AfterSettle } from '../jobs/after-settle.js';
import type { Jobs } from '../jobs/service.js';
import { chatItems, templateItems, type BatchRequest, type Built, type ItemDeps } from './items.js';
import type { BatchProgress } from './progress.js';
import { batchCounts, batchCountsOf, toBatchDto, type BatchDto } from './view.js';

export const BATCH_MAX_ITEMS = 10_000;

export interface BatchDeps extends ItemDeps {
  db: Db;
  ledger: Ledger;
  budgets: Budgets;
  queues: Queues;
  meter: UsageMeter;
  webhooks: Webhooks;
  fairness: Fairness;
  /** The generations' reads: a batch's results and its queued items. */
  jobs: Pick<Jobs, 'many' | 'queuedOfBatch'>;
  /** What follows a settlement (events, webhooks, batch progress): a canceled item's. */
  afterSettle: AfterSettle;
  /** The batches' own progress: items settled at admission count at once. */
  progress: BatchProgress;
  /** Tokens per window of the key: a batch holds its items' worst cases there, as single requests do. */
  tokens: Pick<TokenLimiter, 'reserve' | 'reconcile' | 'release'>;
  log: Logger;
}

/** Rows of GET /v1/batches/:id/results read per statement. */
const RESULTS_PAGE = 500;

/**
 * Batches: many inputs admitted in one request, each as `POST /v1/generate` would admit it
 * (one generation per input in flight, results inside their TTL answer at once), with the
 * budget held for the whole batch before anything is written. Every read goes through
 * `#owned`, which scopes a batch to its caller.
 */
export class Batches {
  constructor(private readonly deps: BatchDeps) {}

  async create(req: BatchRequest, caller: Caller, requestId: string): Promise<BatchDto> {
    const { db, ledger, budgets, webhooks, config } = this.deps;
    const built = req.requests ? chatItems(this.deps, req.requests, caller) : await templateItems(this.deps, req, caller);
    const webhook = req.webhook ? await webhooks.check(caller, req.webhook, DEFAULT_BATCH_EVENTS) : undefined;
    const templateId = req.requests ? null : req.templateId!;
    const projectId = built[0]?.projectId ?? homeProject(caller);

    // One request per distinct input; what a slot already answers costs nothing.
    const unique = new Map<string, Built>();
    for (const b of built) if (!unique.has(b.hash)) unique.set(b.hash, b);
    const known = await ledger.answersOf([...unique.keys()]);
    const toAdmit = [...unique.values()].filter((b) => !known.has(b.hash));
    const worst = new Map(toAdmit.map((b) => [b.hash, worstCaseUsd(admissionPrice(this.deps.registry, config, b.request.provider, b.request.model), b.request)]));
    const sum = [...worst.values()].some((w) => w < 0) ? -1 : [...worst.values()].reduce((a, w) => a + w, 0);
    const id = newId('bat');
    // The key's token window holds every item to run, as single requests hold theirs (429 whole, before anything is written).
    const tokensOf = (items: Built[]) => items.reduce((a, b) => { const w = worstCaseTokens(b.request); return a + w.inputTokens + w.outputTokens; }, 0);
    const tpm = toAdmit.length ? await this.deps.tokens.reserve(caller, id, tokensOf(toAdmit)) : undefined;
    // Refused whole (402) before anything is written or enqueued.
    const held = await Promise.resolve(toAdmit.length > 0 && sum !== 0 ? budgets.reserve(caller.keyId, templateId, sum) : false)
      .catch(async (err: unknown) => { if (tpm) await this.deps.tokens.release(caller.keyId, tpm); throw err; });

    const priority = queueClass(this.deps.config, caller, req.priority);
    const trace = traceCarrier(); // every item's attempts continue the batch request's trace
    const admittedRows: Admission[] = [];
    const answer = new Map<string, { id: string; cached: boolean }>();
    for (const [h, a] of known) answer.set(h, { id: a.state === 'in_flight' ? a.id : a.row.id, cached: a.state === 'completed' });
    try {
      await db.insert(batches).values({
        id, apiKeyId: caller.keyId, projectId, templateId, status: 'in_progress', total: built.length, priority,
        webhookUrl: webhook?.url ?? null, webhookEvents: webhook?.events ?? null,
      });
      let pending = toAdmit;
      for (let round = 0; pending.length && round < 5; round++) {
        const rows = pending.map((b) => this.#admission(b, caller, requestId, id, held ? Math.max(0, worst.get(b.hash)!) : 0, priority, trace));
        const ok = await ledger.admitMany(rows);
        admittedRows.push(...rows.filter((_, i) => ok[i]));
        for (const r of rows.filter((_, i) => ok[i])) answer.set(r.inputHash, { id: r.id, cached: false });
        const lost = pending.filter((_, i) => !ok[i]);
        const now = await ledger.answersOf(lost.map((b) => b.hash));
        for (const [h, a] of now) answer.set(h, answerOf(a));
        pending = lost.filter((b) => !now.has(b.hash));
      }
      if (pending.length) throw new AppError('service_unavailable', 'Could not admit every item of the batch; try again.');
    } catch (err) {
      // Admitted rows hold their own share (released when they settle); the rest is given back.
      const kept = admittedRows.reduce((a, r) => a + (r.reservedUsd ?? 0), 0);
      if (held && sum - kept > 0) await budgets.apply({ apiKeyId: caller.keyId, templateId, release: sum - kept, releaseAt: new Date() });
      if (tpm) await this.deps.tokens.reconcile(caller.keyId, tpm, tokensOf(built.filter((b) => admittedRows.some((r) => r.inputHash === b.hash))));
      throw err;
    }
    // What inputs admitted by another request meanwhile do not need of the hold is given back.
    const admittedHashes = new Set(admittedRows.map((r) => r.inputHash));
    const release = held ? toAdmit.filter((b) => !admittedHashes.has(b.hash)).reduce((a, b) => a + Math.max(0, worst.get(b.hash)!), 0) : 0;
    if (release > 0) await budgets.apply({ apiKeyId: caller.keyId, templateId, release, releaseAt: new Date() });
    // The window keeps the worst case of what this batch admitted for one window (its jobs do not reconcile it one by one).
    if (tpm && admittedHashes.size < toAdmit.length) await this.deps.tokens.reconcile(caller.keyId, tpm, tokensOf(toAdmit.filter((b) => admittedHashes.has(b.hash))));

    const items = built.map((b, idx) => ({ idx, customId: b.customId, ...answer.get(b.hash)! }));
    const cached = items.filter((i) => i.cached).length;
    await db.execute(sql`
      insert into batch_items (batch_id, idx, custom_id, generation_id, cached, settled)
      select ${id}, idx, cid, gid, c, false
      from unnest(${sql.param(items.map((i) => i.idx))}::int[], ${sql.param(items.map((i) => i.customId))}::text[],
        ${sql.param(items.map((i) => i.id))}::text[], ${sql.param(items.map((i) => i.cached))}::bool[]) as v(idx, cid, gid, c)`);
    if (cached) await db.update(batches).set({ cachedCount: cached }).where(eq(batches.id, id));
    await this.#enqueue(admittedRows, caller.keyId, priority);
    if (webhook) await webhooks.subscribeMany(items.filter((i) => !i.cached).map((i) => i.id), caller.keyId, webhook);
    // Cached items, and items that joined generations that settled meanwhile, count at once.
    await this.deps.progress.settleBatch(id);
    this.deps.meter.record({ apiKeyId: caller.keyId, templateId, requests: built.length, cacheHits: cached });
    return this.get(id, caller);
  }

  /**
   * Jobs to BullMQ in bulk (addBulk, 1,000 per call, calls in parallel), in fair-queue slots taken in
   * one script for the whole batch (so a batch interleaves with other keys' jobs of its class as single
   * requests would); a failed call leaves its rows `queued` for the reconciler.
   */
  async #enqueue(rows: Admission[], apiKeyId: string, priority: Priority): Promise<void> {
    const { queues, log, fairness } = this.deps;
    // Redis is bounded as for a single request: the rows are the record, and the reconciler enqueues what Redis did not take.
    const taken = await within(fairness.admitMany(apiKeyId, priority, rows.length).catch(() => undefined), ENQUEUE_WAIT_MS);
    const slots = taken === TIMED_OUT ? undefined : taken;
    const chunks: Admission[][] = [];
    for (let i = 0; i < rows.length; i += 1000) chunks.push(rows.slice(i, i + 1000));
    // Sent together: ioredis pipelines the calls, so Redis is never idle waiting for the next one.
    await Promise.all(chunks.map(async (rows, c) => {
      const jobs = rows.map(({ templateVersion: _v, reservedUsd: _r, batchId: _b, priority: _p, ...data }, i) => {
        const slot = slots?.[c * 1000 + i];
        return { name: 'generate', data: { ...data, ...(slot ? { fair: slot.fair } : {}) }, opts: queues.jobOptions(data.id, slot?.priority ?? tailPriority(priority)) };
      });
      const added = queues.generation.addBulk(jobs).then(() => true, (err: unknown) => {
        log.error({ err: String(err), jobs: jobs.length }, 'batch enqueue failed; the reconciler enqueues its jobs once Redis answers');
        return false;
      });
      if ((await within(added, ENQUEUE_WAIT_MS)) === TIMED_OUT) {
        log.warn({ jobs: jobs.length, waitedMs: ENQUEUE_WAIT_MS }, 'batch enqueue slow: answering without waiting for Redis (jobs it does not take are enqueued by the reconciler)');
      }
    }));
  }

  #admission(b: Built, caller: Caller, requestId: string, batchId: string, reservedUsd: number, priority: Priority, trace?: Record<string, string>): Admission {
    return {
      ...storedRequest(b.request), id: newId('gen'), inputHash: b.hash, templateId: b.templateId, templateVersion: b.templateVersion,
      cacheTtlSeconds: b.ttl, apiKeyId: caller.keyId, requestId, reservedUsd, batchId, priority, projectId: b.projectId, ...(trace ? { trace } : {}),
    };
  }

  /**
   * The one read of a batch row: by id, scoped to who may see it (the key that created it, or the
   * admin key). Project scoping adds its condition here.
   */
  async #owned(id: string, caller: Caller): Promise<BatchRow> {
    const [row] = await this.deps.db.select().from(batches).where(and(eq(batches.id, id), inScope(batches.projectId, caller)));
    if (!row) throw new AppError('batch_not_found', `No batch ${id}.`);
    return row;
  }

  /** The caller's project's batches, newest first, keyset-paginated on (createdAt, id); the page's counts in one query. */
  async list(q: { limit?: number; cursor?: string }, caller: Caller): Promise<{ data: BatchDto[]; nextCursor: string | null }> {
    const limit = q.limit ?? 20;
    const rows = await this.deps.db.select().from(batches)
      .where(and(inScope(batches.projectId, caller), q.cursor ? afterCursor(batches.createdAt, batches.id, q.cursor, 'bat') : undefined))
      .orderBy(desc(batches.createdAt), desc(batches.id))
      .limit(limit + 1);
    const page = pageOf(rows, limit);
    const counts = await batchCountsOf(this.deps.db, page.rows.map((r) => r.id));
    return { data: page.rows.map((r) => toBatchDto(r, counts.get(r.id)!)), nextCursor: page.nextCursor };
  }

  async get(id: string, caller: Caller): Promise<BatchDto> {
    const row = await this.#owned(id, caller);
    return toBatchDto(row, await batchCounts(this.deps.db, id));
  }

  /**
   * The batch's results as JSON lines in item order, read in pages of RESULTS_PAGE on (batch, idx),
   * so memory holds one page whatever the batch's size.
   */
  async *results(id: string, caller: Caller): AsyncGenerator<string> {
    await this.#owned(id, caller);
    let after = -1;
    for (;;) {
      const rows = await this.deps.db.execute(sql`
        select i.idx, i.custom_id, i.cached, g.id as gid from batch_items i join generations g on g.id = i.generation_id
        where i.batch_id = ${id} and i.idx > ${after} order by i.idx limit ${RESULTS_PAGE}`);
      const page = rowsOf<{ idx: number; custom_id: string | null; cached: boolean; gid: string }>(rows);
      if (!page.length) return;
      const ids = [...new Set(page.map((p) => p.gid))];
      const gens = new Map((await this.deps.jobs.many(ids, EVERY_PROJECT)).map((g) => [g.id, g]));
      let chunk = '';
      for (const p of page) chunk += `${JSON.stringify(resultLine(p.idx, p.custom_id, p.cached, gens.get(p.gid)!))}\n`;
      yield chunk;
      after = page[page.length - 1]!.idx;
      if (page.length < RESULTS_PAGE) return;
    }
  }

  /**
   * Cancels what has not started: the batch's own generations still `queued` lose their BullMQ
   * jobs (a job a worker already holds cannot be removed and runs on), then settle `canceled`
   * (Ledger.cancelQueued), each then settled as any cancel is (its event, its `canceled` webhooks
   * when the batch asked for per-job events). Items that joined generations of other requests run on.
   */
  async cancel(id: string, caller: Caller): Promise<BatchDto> {
    const { db, queues, ledger, afterSettle, progress } = this.deps;
    const row = await this.#owned(id, caller);
    if (!row.completedAt) {
      await db.update(batches).set({ status: 'canceled', canceledAt: new Date() }).where(and(eq(batches.id, id), eq(batches.status, 'in_progress')));
      let after = '';
      for (;;) {
        const page = await this.deps.jobs.queuedOfBatch(id, after, 1000);
        if (!page.length) break;
        const removed = await Promise.all(page.map((g) => queues.generation.remove(g).then((n) => (n === 1 ? g : null), () => null)));
        const canceled = await ledger.cancelQueued(removed.filter((x): x is string => x !== null));
        await Promise.all(canceled.map((g) => afterSettle.settled({ id: g, status: 'canceled' })));
        after = page[page.length - 1]!;
      }
      await progress.settleBatch(id);
    }
    return this.get(id, caller);
  }
}

const answerOf = (a: SlotAnswer) => (a.state === 'in_flight' ? { id: a.id, cached: false } : { id: a.row.id, cached: true });

/** One line of GET /v1/batches/:id/results. */
function resultLine(index: number, customId: string | null, cached: boolean, g: GenerationRow) {
  const job = toJobDto(g);
  return {
    index, customId, jobId: g.id, status: g.status,
    ...(job.result ? { result: job.result } : {}), ...(job.error ? { error: job.error } : {}),
    // A cached item cost nothing now: its usage is the generation's that produced the result.
    ...(job.usage ? { usage: job.usage } : {}), costUsd: cached ? 0 : (job.costUsd ?? null), cached,
  };
}
