import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Proc {
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves when the output matches `re`. */
  waitFor(re: RegExp, ms?: number): Promise<void>;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
}

/** Runs an entry point (`src/main.ts`, `src/server.ts`, `workers/main.ts`) as its own Node process. */
export function spawnEntry(entry: string, env: Record<string, string>): Proc {
  return spawnCommand(process.execPath, ['--import', 'tsx', entry], env);
}

/**
 * Runs a command (`npm start` as a user types it) in its own process group, so
 * `kill(-child.pid)` reaches npm's children too; `cwd` defaults to the repository.
 */
export function spawnCommand(command: string, args: string[], env: Record<string, string>, cwd = ROOT): Proc {
  const child = spawn(command, args, {
    cwd,
    // No .env of the checkout leaks into a test's process unless the test names one.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', PROMPTLAB_ENV_FILE: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: command !== process.execPath,
  });
  let out = '';
  const waiters = new Set<() => void>();
  const onData = (b: Buffer) => {
    out += b.toString();
    for (const w of waiters) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return {
    child,
    output: () => out,
    exited,
    waitFor(re, ms = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (re.test(out)) { done(); resolve(); }
        };
        const timer = setTimeout(() => { done(); reject(new Error(`timed out waiting for ${re} in:\n${out.slice(-3000)}`)); }, ms);
        const done = () => { clearTimeout(timer); waiters.delete(check); };
        waiters.add(check);
        void exited.then(() => { if (!re.test(out)) { done(); reject(new Error(`process exited before ${re}:\n${out.slice(-3000)}`)); } });
        check();
      });
    },
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}
