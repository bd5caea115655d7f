/**
 * The Drizzle schema: one file per group of tables under tables/. drizzle-kit
 * reads this file (drizzle.config.ts), and code imports tables from here.
 */
export { DEFAULT_PROJECT } from '../llm/hash.js';
export * from './tables/projects.js';
export * from './tables/templates.js';
export * from './tables/generations.js';
export * from './tables/spend.js';
export * from './tables/batches.js';
export * from './tables/routing.js';
