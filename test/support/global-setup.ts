import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import { buildConsole } from '../../src/console/build.js';
import { openDatabase } from '../../src/db/client.js';
import { CHROMIUM, CHROMIUM_MISSING } from './browser.js';
import { adminQuery, dbUrl } from './pg.js';

declare module 'vitest' {
  export interface ProvidedContext {
    templateDb: string;
  }
}

/**
 * Migrates one template database per run (every test clones it: CREATE DATABASE … TEMPLATE),
 * builds the console when it is missing or stale (the browser tests load it), and says in
 * one line how to get Chromium when it is missing.
 */
export default async function setup(project: TestProject) {
  if (!existsSync(CHROMIUM)) process.stderr.write(`\n${CHROMIUM_MISSING}\n\n`);
  await buildConsole();
  const name = `pl_tpl_${randomBytes(4).toString('hex')}`;
  await adminQuery(`create database ${name}`);
  const db = await openDatabase({ url: dbUrl(name), dataDir: '' });
  await db.migrate();
  await db.close();
  project.provide('templateDb', name);
  return async () => {
    await adminQuery(`drop database if exists ${name} with (force)`);
  };
}
