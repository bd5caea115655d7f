/** What `within` resolves to when the promise was late. */
export const TIMED_OUT: unique symbol = Symbol('timed out');

/**
 * Settles as `p` does if it settles within `ms`, else resolves to TIMED_OUT
 * at that moment. The timer never holds the process open and is cleared as
 * soon as either side wins, so a hot path leaves no timer behind.
 */
export function within<T>(p: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(resolve, ms, TIMED_OUT);
    timer.unref();
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
