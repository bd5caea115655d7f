import type { Logger } from 'pino';

/** A generation that just settled, as whoever settled it saw it. */
export interface Settlement {
  id: string;
  status: 'completed' | 'dead' | 'canceled';
  /** The attempt that settled it, when one did. */
  attempt?: number;
  error?: { code: string; message: string };
  /** It had settled before, in a run whose own settlement may have been lost: listeners make it true again, once. */
  again?: boolean;
}

/** One thing to do after a generation settles; it must be safe to run again for the same settlement. */
export type SettleListener = (s: Settlement) => Promise<void>;

/**
 * The one "after settle" hook. Whatever settles a generation (the worker's attempt, a cancel, a
 * deadline, the reconciler, a batch cancel) calls `settled`; what must follow (the final job event,
 * the webhook messages, the batch's progress) listens here instead of being repeated at each place.
 * A listener that fails is logged and never fails the others: the row is already the record.
 */
export class AfterSettle {
  readonly #listeners: { name: string; run: SettleListener }[] = [];

  constructor(private readonly log: Logger) {}

  on(name: string, run: SettleListener): this {
    this.#listeners.push({ name, run });
    return this;
  }

  async settled(s: Settlement): Promise<void> {
    await Promise.all(this.#listeners.map(async ({ name, run }) => {
      try {
        await run(s);
      } catch (err) {
        this.log.error({ err: String(err), jobId: s.id, listener: name }, 'after-settle work failed');
      }
    }));
  }
}
