/**
 * Provider calls in flight: at most `size` at once, the others wait their
 * turn in arrival order. The worker takes a few more jobs from BullMQ than it
 * has slots (WORKER_PREFETCH), so a slot goes to the next job the moment a
 * provider answers, while the finished job's Postgres write and BullMQ's
 * hand-over run outside it.
 */
export class Slots {
  #free: number;
  #closed = false;
  readonly #waiting: ((granted: boolean) => void)[] = [];

  constructor(size: number) {
    this.#free = size;
  }

  /**
   * Resolves with a release function, to call once; waits while every slot is
   * taken. Resolves to undefined once `close()` was called: the job is not to start.
   */
  async acquire(): Promise<(() => void) | undefined> {
    if (this.#closed) return undefined;
    if (this.#free > 0) this.#free--;
    else if (!(await new Promise<boolean>((resolve) => this.#waiting.push(resolve)))) return undefined;
    return this.#release();
  }

  /**
   * A slot now, or undefined: none is free, or a job is waiting for one (it is not overtaken),
   * or the slots are closed. For a job not yet taken from the queue (workers/local-start.ts).
   */
  tryAcquire(): (() => void) | undefined {
    if (this.#closed || this.#free === 0) return undefined;
    this.#free--;
    return this.#release();
  }

  #release(): () => void {
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const next = this.#waiting.shift();
      if (next) next(true);
      else this.#free++;
    };
  }

  /** Shutdown: no slot for any job still waiting, nor for later ones. */
  close(): void {
    this.#closed = true;
    for (const waiting of this.#waiting.splice(0)) waiting(false);
  }
}
