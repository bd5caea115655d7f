/** A check waiting on Redis, as the watchdog tracks it. */
export interface Waiting {
  /** performance.now() when the check was sent. */
  sentAt: number;
  /** Set once: by the reply or by the timeout, whichever comes first. */
  settled: boolean;
  next: Waiting | undefined;
}

/**
 * Fails the checks Redis leaves unanswered, with one timer for all of them
 * instead of a setTimeout/clearTimeout pair per check. Checks are queued in
 * the order sent; one connection answers in that order, so a reply almost
 * always settles the head and costs O(1).
 *
 * A check fails once it has waited `timeoutMs` and Redis has been silent for
 * `timeoutMs` too: a busy event loop or a backlog of replies still flowing is
 * not an outage.
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

  watch(check: T): void {
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

  // Runs after pending socket reads had their turn, so replies already received are not timed out.
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
