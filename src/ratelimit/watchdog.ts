/** A check waiting on Redis, as the watchdog tracks it. */
export interface Waiting {
  /** performance.now() when the check was written to the connection; `watch` sets it. */
  sentAt: number;
  /** Set once: by the reply or by the timeout, whichever comes first. */
  settled: boolean;
  next: Waiting | undefined;
}

/**
 * Fails the checks Redis leaves unanswered, with one timer for all of them
 * instead of a setTimeout/clearTimeout pair per check. Checks are queued in
 * the order written; one connection answers in that order, so a reply almost
 * always settles the head and costs O(1).
 *
 * A check fails only when Redis had a real chance to answer and did not: it
 * was written at least `timeoutMs` ago, Redis has sent nothing for
 * `timeoutMs` either, and the connection has just been read. The clock
 * starts at the write, not when the check was queued, and the sweep runs on
 * the check phase after the timer, past a poll phase that reads every reply
 * that arrived meanwhile. So a stall of the API's own event loop, before or
 * after the write, is never taken for a hung Redis; a busy Redis or a backlog
 * of replies still flowing is not an outage either.
 *
 * With a hung Redis a check fails `timeoutMs` after the later of its write
 * and Redis's last reply, plus the timer's lateness and one loop turn.
 */
export class Watchdog<T extends Waiting> {
  /** performance.now() of the last reply from Redis; the owner sets it. */
  lastReplyAt = 0;
  private head: T | undefined;
  private tail: T | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly timeoutMs: number,
    private readonly onTimeout: (check: T) => void,
  ) {}

  /** Starts the clock of `check`, just written to Redis at `sentAt` (performance.now()). */
  watch(check: T, sentAt: number): void {
    check.sentAt = sentAt;
    if (this.tail) this.tail.next = check;
    else this.head = check;
    this.tail = check;
    this.timer ??= setTimeout(this.onTimer, this.timeoutMs);
  }

  /** Marks `check` answered; false when it had already timed out. */
  settle(check: T): boolean {
    if (check.settled) return false;
    check.settled = true;
    this.dropSettled();
    return true;
  }

  private dropSettled(): void {
    while (this.head?.settled) this.head = this.head.next as T | undefined;
    if (!this.head) this.tail = undefined;
  }

  // A poll phase runs between the timer and the sweep: replies already received are read first.
  private readonly onTimer = () => setImmediate(this.sweep);

  private readonly sweep = () => {
    this.timer = undefined;
    this.dropSettled();
    const now = performance.now();
    if (now - this.lastReplyAt >= this.timeoutMs) {
      while (this.head && now - this.head.sentAt >= this.timeoutMs) {
        const check = this.head;
        this.head = check.next as T | undefined;
        if (!check.settled) {
          check.settled = true;
          this.onTimeout(check);
        }
      }
      this.dropSettled();
    }
    if (this.head) {
      const due = Math.max(this.head.sentAt, this.lastReplyAt) + this.timeoutMs;
      this.timer = setTimeout(this.onTimer, Math.max(1, due - now));
    }
  };
}
