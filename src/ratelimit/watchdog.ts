/** A check waiting on Redis, as the watchdog tracks it. */
export interface Waiting {
  /** performance.now() when the check was written to the connection; `watch` sets it. */
  sentAt: number;
  /** Set once: by the reply or by the timeout, whichever comes first. */
  settled: boolean;
  next: Waiting | undefined;
  /** Called once when Redis left it unanswered (see Watchdog). */
  expire(): void;
}

/**
 * Fails the checks Redis leaves unanswered, with one timer for all of them
 * instead of a setTimeout/clearTimeout pair per check. Checks are queued in
 * the order written; one connection answers in that order, so a reply almost
 * always settles the head and costs O(1).
 *
 * A check fails only when Redis had a real chance to answer and did not:
 * when the timer fires, the check was written at least `timeoutMs` before
 * and Redis has sent nothing for `timeoutMs` either, and still no reply is in
 * after the poll phase that follows. Its clock starts at the write, not when
 * it was queued, and silence is judged as of the timer, not of the sweep: a
 * poll phase that starts after the timer reads every reply that had arrived
 * by then, however long the API then stays busy. So a stall of the API's own
 * event loop, before the write, after it or between the timer and the sweep,
 * is never taken for a hung Redis; neither is a backlog of replies still
 * flowing.
 *
 * With a hung Redis a check fails `timeoutMs` after the later of its write
 * and Redis's last reply, plus the timer's lateness and the rest of that
 * loop turn.
 */
export class Watchdog<T extends Waiting> {
  /** performance.now() of the last reply from Redis; the owner sets it. */
  lastReplyAt = 0;
  private head: T | undefined;
  private tail: T | undefined;
  private timer: NodeJS.Timeout | undefined;
  private firedAt = 0;

  constructor(readonly timeoutMs: number) {}

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

  // The sweep judges silence as of this moment: the poll phase before it starts later, so reads every reply already in.
  private readonly onTimer = () => {
    this.firedAt = performance.now();
    setImmediate(this.sweep);
  };

  private readonly sweep = () => {
    this.timer = undefined;
    this.dropSettled();
    const at = this.firedAt;
    if (at - this.lastReplyAt >= this.timeoutMs) {
      while (this.head && at - this.head.sentAt >= this.timeoutMs) {
        const check = this.head;
        this.head = check.next as T | undefined;
        if (!check.settled) {
          check.settled = true;
          check.expire();
        }
      }
      this.dropSettled();
    }
    if (this.head) {
      const due = Math.max(this.head.sentAt, this.lastReplyAt) + this.timeoutMs;
      this.timer = setTimeout(this.onTimer, Math.max(1, due - performance.now()));
    }
  };
}
