import { desc, eq } from 'drizzle-orm';
import { randomBytes } from 'node:crypto';
import type { Db } from '../db/client.js';
import { projects } from '../db/schema.js';
import { AppError } from '../errors/app-error.js';

export interface ProjectView {
  id: string;
  name: string;
  createdAt: string;
  updatedAt: string;
}

const show = (r: typeof projects.$inferSelect): ProjectView => ({ ...r, createdAt: r.createdAt.toISOString(), updatedAt: r.updatedAt.toISOString() });

/** Projects (tenants): created and renamed by the global admin; never deleted (their rows would be orphans). */
export class Projects {
  constructor(private readonly db: Db) {}

  async create(name: string): Promise<ProjectView> {
    const [row] = await this.db.insert(projects).values({ id: `prj_${randomBytes(12).toString('base64url')}`, name }).returning();
    return show(row!);
  }

  async list(limit = 500): Promise<ProjectView[]> {
    return (await this.db.select().from(projects).orderBy(desc(projects.createdAt), desc(projects.id)).limit(limit)).map(show);
  }

  /** The project `id`, or a 404 `project_not_found`. */
  async get(id: string): Promise<ProjectView> {
    const [row] = await this.db.select().from(projects).where(eq(projects.id, id));
    if (!row) throw new AppError('project_not_found', `No project ${id}.`);
    return show(row);
  }

  async update(id: string, patch: { name?: string }): Promise<ProjectView> {
    if (patch.name === undefined) return this.get(id);
    const [row] = await this.db.update(projects).set({ name: patch.name, updatedAt: new Date() }).where(eq(projects.id, id)).returning();
    if (!row) throw new AppError('project_not_found', `No project ${id}.`);
    return show(row);
  }
}
