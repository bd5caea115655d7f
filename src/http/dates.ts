/**
 * The span of dates the API accepts from clients (usage days, cursor
 * instants): Postgres stores every one of them, and JS prints every one as
 * a four-digit `YYYY-…`, which is the form Postgres parses.
 */
export const FIRST_DAY = '1970-01-01';
export const LAST_DAY = '9999-12-31';

/** `YYYY-MM-DD` with a year from 1970 to 9999; with `format: 'date'` (a real calendar day) exactly the days in the span. */
export const DAY_PATTERN = '^(19[7-9][0-9]|[2-9][0-9]{3})-[0-9]{2}-[0-9]{2}$';

const FIRST_MS = Date.parse(`${FIRST_DAY}T00:00:00.000Z`);
const END_MS = Date.parse('+010000-01-01T00:00:00.000Z');

/** A valid Date within FIRST_DAY..LAST_DAY. */
export const inDateSpan = (d: Date): boolean => d.getTime() >= FIRST_MS && d.getTime() < END_MS;
