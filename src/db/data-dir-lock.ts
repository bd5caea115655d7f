import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Raised when another live process holds the data directory; its message says what to do. */
export class DataDirLockedError extends Error {
  override name = 'DataDirLockedError';
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by another user
  }
};

/**
 * Claims `dataDir` for this process: the embedded PGlite database can be opened by one
 * process only, and a second one would silently split the data. The lock is a file holding
 * the owner's pid; one whose process is gone is taken over. Released at exit.
 */
export function lockDataDir(dataDir: string): { file: string; release(): void } {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, 'promptlab.lock');
  for (let i = 0; i < 3; i++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      const release = () => {
        try {
          if (readFileSync(file, 'utf8').trim() === String(process.pid)) unlinkSync(file);
        } catch {
          // already gone
        }
      };
      process.once('exit', release);
      return { file, release };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
      throw new DataDirLockedError(
        `another PromptLab (pid ${pid}) is already running on the data directory ${resolve(dataDir)}: its embedded Postgres (PGlite) serves one process only. ` +
          'Stop that one (or use it: it serves the console and the API), or give this one another PROMPTLAB_DATA_DIR, or set DATABASE_URL to a Postgres server.',
      );
    }
    unlinkSync(file); // its process is gone: a stale lock
  }
  throw new DataDirLockedError(`could not claim ${file}; remove it if no PromptLab is running.`);
}
