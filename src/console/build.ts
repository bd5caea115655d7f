import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { CONSOLE_DIR } from './plugin.js';

const SOURCE = fileURLToPath(new URL('../../console/', import.meta.url));
/** Server modules the console imports (its placeholder rules). */
const SHARED = [fileURLToPath(new URL('../templates/render.ts', import.meta.url))];

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** The build is missing, or older than a console source file, a server module it imports, or the lock file (a dependency changed). */
export function consoleIsStale(): boolean {
  const index = join(CONSOLE_DIR, 'index.html');
  if (!existsSync(index)) return true;
  const built = statSync(index).mtimeMs;
  const lock = fileURLToPath(new URL('../../package-lock.json', import.meta.url));
  return Math.max(newest(SOURCE), ...SHARED.map((f) => statSync(f).mtimeMs)) > built || (existsSync(lock) && statSync(lock).mtimeMs > built);
}

/**
 * Builds the console with Vite into dist/console when it is missing or stale (`always`: regardless).
 * Returns false, having said why on stderr, when Vite is not installed (a production install
 * without devDependencies): the API then serves a page saying how to build it.
 */
export async function buildConsole(opts: { always?: boolean } = {}): Promise<boolean> {
  if (!opts.always && !consoleIsStale()) return true;
  let vite: typeof import('vite');
  try {
    vite = await import('vite');
  } catch {
    process.stderr.write('promptlab: the console is not built and Vite is not installed (npm ci without --omit=dev installs it); the API runs without it.\n');
    return false;
  }
  const started = Date.now();
  // Vite and its React plugin make a development build when NODE_ENV says so (vitest sets `test`): a build here is a production one.
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await vite.build({ configFile: join(SOURCE, 'vite.config.ts'), logLevel: 'warn', mode: 'production' });
  } finally {
    if (nodeEnv === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = nodeEnv;
  }
  // Compressed once here, so the API sends `.gz` files as they are instead of compressing per request.
  const assets = join(CONSOLE_DIR, 'assets');
  for (const f of readdirSync(assets)) if (/\.(js|css)$/.test(f)) writeFileSync(join(assets, `${f}.gz`), gzipSync(readFileSync(join(assets, f)), { level: 9 }));
  process.stderr.write(`promptlab: built the console into dist/console in ${Date.now() - started} ms\n`);
  return true;
}

// `node --import tsx src/console/build.ts [--if-stale]`: the npm scripts' entry.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  buildConsole({ always: !process.argv.includes('--if-stale') }).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`promptlab: the console build failed: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
