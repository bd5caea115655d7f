import { and, eq, lt, or, type SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import { AppError } from '../errors/app-error.js';
import { inDateSpan } from '../http/dates.js';

/**
 * Keyset pages, newest first on (created_at, id). A cursor is opaque to clients: base64url of
 * `createdAt|id` of a page's last row, accepted back only as written (an instant in the date
 * span that prints back as given, and an id with the table's prefix).
 */
export const encodeCursor = (row: { createdAt: Date; id: string }): string =>
  Buffer.from(`${row.createdAt.toISOString()}|${row.id}`).toString('base64url');

function decodeCursor(cursor: string, idPrefix: string): { at: Date; id: string } {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)\|([a-z]+_[A-Za-z0-9_-]{1,64})$/.exec(Buffer.from(cursor, 'base64url').toString());
  const at = new Date(m?.[1] ?? NaN);
  if (!m || !m[2]!.startsWith(`${idPrefix}_`) || !inDateSpan(at) || at.toISOString() !== m[1]) {
    throw new AppError('bad_request', 'invalid cursor: pass a nextCursor back exactly as it was given.', {
      issues: [{ path: 'querystring/cursor', message: 'is not a cursor this API gave' }],
    });
  }
  return { at, id: m[2]! };
}

/** The rows after `cursor` in (createdAt desc, id desc) order. */
export function afterCursor(createdAt: PgColumn, id: PgColumn, cursor: string, idPrefix: string): SQL {
  const c = decodeCursor(cursor, idPrefix);
  return or(lt(createdAt, c.at), and(eq(createdAt, c.at), lt(id, c.id)))!;
}

/** A page from `limit + 1` rows read: the first `limit`, and the cursor of the next page when there is one. */
export function pageOf<T extends { createdAt: Date; id: string }>(rows: T[], limit: number): { rows: T[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  return { rows: page, nextCursor: rows.length > limit ? encodeCursor(page[page.length - 1]!) : null };
}
