import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import type { Caller } from '../auth/caller.js';
import { batchCounts, toBatchDto } from '../batches/view.js';
import type { Config } from '../config/index.js';
import { Batcher } from '../db/batcher.js';
import { rowsOf, type Db } from '../db/client.js';
import { newId } from '../db/ids.js';
import { apiKeys, batches, generations, webhookAttempts, webhookDisabled, webhookSubscriptions, type BatchRow, type WebhookEvent } from '../db/schema.js';
import { AppError } from '../errors/app-error.js';
import { toJobDto } from '../jobs/dto.js';
import type { Queues, WebhookJobData } from '../queue/queues.js';
import { BlockedAddressError, resolveAllowed } from './address.js';
import { newWebhookSecret } from './signature.js';

/** `webhook` of a generate or batch request. */
export interface WebhookSpec {
  url: string;
  events?: WebhookEvent[];
}

/** Events a generate webhook sends when the request names none. */
export const DEFAULT_JOB_EVENTS: WebhookEvent[] = ['completed', 'dead', 'canceled'];
/** Events a batch webhook sends when the request names none. */
export const DEFAULT_BATCH_EVENTS: WebhookEvent[] = ['batch.completed'];

/**
 * Webhook subscriptions, secrets and the enqueueing of messages. Both sides use it: the API
 * checks and records subscriptions, the workers call `ended` when a generation settles. Each
 * message is enqueued with a deterministic BullMQ job id (`webhook-id`), so a settlement seen
 * twice (a retried completion, the API and a worker racing) sends it once.
 */
export class Webhooks {
  constructor(private readonly db: Db, private readonly queues: Pick<Queues, 'webhooks'>, private readonly config: Pick<Config, 'WEBHOOK_ALLOW_PRIVATE'>) {}

  /**
   * A webhook a request asks for, checked at submit: http(s), every address its host resolves to
   * public (unless WEBHOOK_ALLOW_PRIVATE), not disabled by a 410, and the key has a secret to sign with.
   */
  async check(caller: Caller, spec: WebhookSpec, defaults: WebhookEvent[]): Promise<Required<WebhookSpec>> {
    let u: URL;
    try {
      u = new URL(spec.url);
    } catch {
      throw new AppError('webhook_url_forbidden', 'The webhook URL is not a URL.');
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new AppError('webhook_url_forbidden', 'The webhook URL must be http or https.');
    if (u.username || u.password) throw new AppError('webhook_url_forbidden', 'The webhook URL may not carry credentials.');
    try {
      await resolveAllowed(u.hostname, this.config.WEBHOOK_ALLOW_PRIVATE);
    } catch (err) {
      throw new AppError('webhook_url_forbidden', err instanceof BlockedAddressError ? err.message : `${u.hostname} does not resolve.`);
    }
    const url = u.toString();
    const [key] = await this.db.select({ secret: apiKeys.webhookSecret, disabled: webhookDisabled.url }).from(apiKeys)
      .leftJoin(webhookDisabled, and(eq(webhookDisabled.apiKeyId, apiKeys.id), eq(webhookDisabled.url, url)))
      .where(eq(apiKeys.id, caller.keyId));
    if (!key?.secret) throw new AppError('webhook_secret_required');
    if (key.disabled) throw new AppError('webhook_disabled', undefined, { url });
    return { url, events: [...new Set(spec.events?.length ? spec.events : defaults)] };
  }

  /** Records that `caller` wants to hear when generation `id` ends; sends at once if it already has. */
  async subscribe(generationId: string, caller: Caller, spec: Required<WebhookSpec>): Promise<void> {
    await this.db.insert(webhookSubscriptions).values({ id: newId('whs'), generationId, apiKeyId: caller.keyId, url: spec.url, events: spec.events });
    // The generation may have settled before the row above was visible to the worker that settled it.
    const [row] = await this.db.select({ status: generations.status }).from(generations).where(eq(generations.id, generationId));
    if (row?.status === 'completed' || row?.status === 'dead' || row?.status === 'canceled') await this.ended(generationId);
  }

  /**
   * A batch webhook naming `completed` or `dead`: one subscription per distinct job its items
   * wait on (one statement), and the jobs that already ended sent at once, as `subscribe` does.
   */
  async subscribeMany(generationIds: string[], apiKeyId: string, spec: Required<WebhookSpec>): Promise<void> {
    const events = spec.events.filter((e) => e !== 'batch.completed');
    if (!events.length || !generationIds.length) return;
    const ids = [...new Set(generationIds)];
    await this.db.execute(sql`
      insert into webhook_subscriptions (id, generation_id, api_key_id, url, events)
      select 'whs_' || md5(random()::text || g), g, ${apiKeyId}, ${spec.url}, ${JSON.stringify(events)}::jsonb from unnest(${sql.param(ids)}::text[]) as g`);
    const ended = await this.db.select({ id: generations.id }).from(generations)
      .where(and(sql`${generations.id} = any(${sql.param(ids)}::text[])`, sql`${generations.status} in ('completed', 'dead', 'canceled')`));
    for (const g of ended) await this.ended(g.id);
  }

  /**
   * Generation `id` settled (completed, dead or canceled): one message per subscription that asked
   * for that event, and the batch items it answers marked settled; a batch left with no unsettled
   * item completes, with its `batch.completed` message. The check is one statement for all the
   * generations that settle meanwhile (a Batcher), and finds nothing to do for most of them.
   * Safe to call again for the same settlement.
   */
  async ended(generationId: string): Promise<void> {
    const r = await this.#ended.push(generationId);
    if (r.subs) await this.#jobMessages(generationId);
    if (r.batches.length) await this.#completeBatches(r.batches);
  }

  readonly #ended = new Batcher<string, { subs: number; batches: string[] }>(async (ids) => {
    const res = await this.db.execute(sql`
      with g as (select id from generations where id = any(${sql.param(ids)}::text[]) and status in ('completed', 'dead', 'canceled')),
      items as (
        update batch_items i set settled = true from g where i.generation_id = g.id and not i.settled returning i.generation_id, i.batch_id
      )
      select g.id,
        (select count(*) from webhook_subscriptions s where s.generation_id = g.id)::int as subs,
        (select array_agg(distinct batch_id) from items where items.generation_id = g.id) as batches
      from g`);
    const byId = new Map(rowsOf<{ id: string; subs: number; batches: string[] | null }>(res).map((r) => [r.id, r]));
    return ids.map((id) => ({ subs: byId.get(id)?.subs ?? 0, batches: byId.get(id)?.batches ?? [] }));
  });

  async #jobMessages(generationId: string): Promise<void> {
    const [row] = await this.db.select().from(generations).where(eq(generations.id, generationId));
    if (!row || (row.status !== 'completed' && row.status !== 'dead' && row.status !== 'canceled')) return;
    const event: WebhookEvent = row.status;
    const subs = await this.db.select().from(webhookSubscriptions).where(eq(webhookSubscriptions.generationId, generationId));
    const body = JSON.stringify(toJobDto(row, false, true));
    const jobs = subs.filter((s) => s.events.includes(event)).map((s) =>
      this.#message({ messageId: `msg_${event}_${s.id}`, event, apiKeyId: s.apiKeyId, url: s.url, generationId, body }));
    if (jobs.length) await this.queues.webhooks.addBulk(jobs);
  }

  /** Items of batch `batchId` whose generations have settled, marked so (after admission and cancel), and the batch completed if none is left. */
  async settleBatch(batchId: string): Promise<void> {
    await this.db.execute(sql`
      update batch_items i set settled = true from generations g
      where i.batch_id = ${batchId} and not i.settled and g.id = i.generation_id and g.status in ('completed', 'dead', 'canceled')`);
    await this.#completeBatches([batchId]);
  }

  /**
   * Completes the batches that have no unsettled item left, once each (the `completed_at is null`
   * guard). Run as its own statement after the items' update committed: of two last items settling
   * at once, the later check sees both, so a batch is never left incomplete; and no completion
   * waits on a lock of the batch row before its last item.
   */
  async #completeBatches(ids: string[]): Promise<void> {
    const done = await this.db.update(batches)
      .set({ completedAt: sql`now()`, status: sql`case when ${batches.status} = 'in_progress' then 'completed' else ${batches.status} end` })
      .where(and(sql`${batches.id} = any(${sql.param(ids)}::text[])`, isNull(batches.completedAt),
        sql`not exists (select 1 from batch_items u where u.batch_id = ${batches.id} and not u.settled)`))
      .returning();
    await Promise.all(done.map((b) => this.#batchCompleted(b)));
  }

  async #batchCompleted(b: BatchRow): Promise<void> {
    if (!b.webhookUrl || !(b.webhookEvents ?? []).includes('batch.completed')) return;
    const body = JSON.stringify(toBatchDto(b, await batchCounts(this.db, b.id)));
    await this.queues.webhooks.add('batch.completed', ...this.#args({ messageId: `msg_batch_${b.id}`, event: 'batch.completed', apiKeyId: b.apiKeyId, url: b.webhookUrl, batchId: b.id, body }));
  }

  #args(data: WebhookJobData) {
    return [data, { jobId: data.messageId }] as const;
  }

  #message(data: WebhookJobData) {
    return { name: data.event, data, opts: { jobId: data.messageId } };
  }

  /** Delivery attempts for a generation, oldest first. */
  attemptsOf(generationId: string) {
    return this.db.select().from(webhookAttempts).where(eq(webhookAttempts.generationId, generationId)).orderBy(asc(webhookAttempts.id));
  }

  /**
   * A new signing secret for key `keyId` (shown once; the old one stops signing at once), and the
   * key's endpoints disabled by a 410 enabled again: a new secret is a new start.
   */
  async rotateSecret(keyId: string): Promise<string> {
    const secret = newWebhookSecret();
    const [row] = await this.db.update(apiKeys).set({ webhookSecret: secret }).where(eq(apiKeys.id, keyId)).returning({ id: apiKeys.id });
    if (!row) throw new AppError('api_key_not_found');
    await this.db.delete(webhookDisabled).where(eq(webhookDisabled.apiKeyId, keyId));
    return secret;
  }
}
