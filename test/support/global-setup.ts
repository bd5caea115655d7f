import { randomBytes } from 'node:crypto';
import type { TestProject } from 'vitest/node';
import { openDatabase } from '../../src/db/client.js';
import { adminQuery, dbUrl } from './pg.js';

declare module 'vitest' {
  export interface ProvidedContext {
    templateDb: string;
  }
}

/** Migrates one template database per run; every test clones it (CREATE DATABASE … TEMPLATE). */
export default async function setup(project: TestProject) {
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
