/** `Cache-Control: no-cache` on a request: skip the cache lookup, and let the new result refresh it. */
export const bypassesCache = (header: unknown): boolean => /(^|,)\s*no-cache\s*(,|$)/i.test(String(header ?? ''));
