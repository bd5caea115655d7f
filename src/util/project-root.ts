import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The first directory at or above `from` that holds package.json. */
function rootAbove(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

/**
 * The project's root directory, whether the code runs from its sources (`src/`, under tsx) or from
 * the build (`dist/src/`): migrations and the built console are found from here.
 */
export const PROJECT_ROOT = rootAbove(dirname(fileURLToPath(import.meta.url)));

/** True when this module runs from the TypeScript sources rather than the build. */
export const FROM_SOURCES = import.meta.url.endsWith('.ts');
