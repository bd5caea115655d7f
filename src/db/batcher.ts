import { isConnectivityError } from '../errors/connectivity.js';

export interface BatcherOptions {
  /** Most items in one statement. @defaultValue 500 */
  maxBatch?: number;
  /** Statements running at once; further items wait and join the next one. @defaultValue 2 */
  maxInFlight?: number;
}

/**
 * Group commit in the application: calls made while a statement is running
 * (or within the same tick) are coalesced into the next one. Under load a
 * batch grows to match the latency, so N concurrent writes cost a few round
 * trips and fsyncs instead of N; alone, a call waits one tick. `run` must
 * return one output per input, in order. A statement is all or nothing, so
 * when a batch fails each of its items is run again alone: one bad row fails
 * its own call only, never its neighbours'.
 */
export class Batcher<In, Out> {
  readonly #run: (items: In[]) => Promise<Out[]>;
  readonly #maxBatch: number;
  readonly #maxInFlight: number;
  #pending: { item: In; resolve(v: Out): void; reject(e: unknown): void }[] = [];
  #inFlight = 0;
  #scheduled = false;

  constructor(run: (items: In[]) => Promise<Out[]>, opts: BatcherOptions = {}) {
    this.#run = run;
    this.#maxBatch = opts.maxBatch ?? 500;
    this.#maxInFlight = opts.maxInFlight ?? 2;
  }

  push(item: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.#pending.push({ item, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight >= this.#maxInFlight || this.#pending.length === 0) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    const batch = this.#pending.splice(0, this.#maxBatch);
    if (batch.length === 0) return;
    this.#inFlight++;
    try {
      const out = await this.#run(batch.map((b) => b.item));
      batch.forEach((b, i) => b.resolve(out[i] as Out));
    } catch (err) {
      // Postgres unreachable fails every row alike: running them one by one would only repeat it.
      if (batch.length === 1 || isConnectivityError(err)) for (const b of batch) b.reject(err);
      else await Promise.all(batch.map((b) => this.#run([b.item]).then((out) => b.resolve(out[0] as Out), b.reject)));
    } finally {
      this.#inFlight--;
      this.#schedule();
    }
  }
}
