import { desc, sql } from 'drizzle-orm';
import { rowsOf, type Db } from '../db/client.js';
import { routingVersions, type RoutingVersionRow } from '../db/schema.js';
import { canonicalJson } from '../llm/hash.js';
import type { RoutingDocument } from './document.js';

/** The routing document's versions in Postgres: the last one is in force. */
export class RoutingStore {
  constructor(private readonly db: Db) {}

  async latest(): Promise<RoutingVersionRow | undefined> {
    const [row] = await this.db.select().from(routingVersions).orderBy(desc(routingVersions.version)).limit(1);
    return row;
  }

  async list(limit = 50): Promise<RoutingVersionRow[]> {
    return this.db.select().from(routingVersions).orderBy(desc(routingVersions.version)).limit(limit);
  }

  /**
   * Stores `doc` as the new version, in one statement; from the file only when it differs from
   * the version in force (so processes booting together with one file add it once). Resolves to
   * the version in force after it.
   */
  async put(doc: RoutingDocument, source: 'file' | 'api', createdBy: string | null): Promise<number> {
    const text = canonicalJson(doc);
    const res = await this.db.execute(sql`
      with last as (select version, document from routing_versions order by version desc limit 1),
      ins as (
        insert into routing_versions (document, source, created_by)
        select ${text}::jsonb, ${source}, ${createdBy}
        where ${source} = 'api' or not exists (select 1 from last where last.document = ${text}::jsonb)
        returning version
      )
      select coalesce((select version from ins), (select version from last)) as version`);
    return rowsOf<{ version: number }>(res)[0]!.version;
  }
}
