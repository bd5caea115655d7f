import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { stopChild } from '../../src/shutdown/stop-child.js';
import { freePort } from './spawn.js';

/** A redis-server child process a test owns: it can stop, kill or freeze it. */
export interface RedisServer {
  url: string;
  port: number;
  pid: number;
  /** SIGTERM (no save; SIGKILL after 3 s), resolves once the process has exited. */
  stop(): Promise<void>;
  /** SIGKILL, resolves once the process has exited: a crash, as seen by clients. */
  kill(): Promise<void>;
  /** SIGSTOP: the server keeps its connections but answers nothing (a hung Redis). */
  pause(): void;
  /** SIGCONT after `pause()`. */
  resume(): void;
}

const running = new Set<ChildProcess>();
const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

function killAll(): void {
  for (const c of running) c.kill('SIGKILL');
}

/** A test process stopped by a signal runs no 'exit' handlers: kill the servers, then die as the signal asks. */
function onSignal(signal: NodeJS.Signals): void {
  killAll();
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

/** Servers die with the test process, however it ends (short of SIGKILL). */
function track(child: ChildProcess): void {
  if (running.size === 0) {
    process.on('exit', killAll);
    for (const s of SIGNALS) process.once(s, onSignal);
  }
  running.add(child);
  child.once('exit', () => {
    running.delete(child);
    if (running.size > 0) return;
    process.off('exit', killAll);
    for (const s of SIGNALS) process.off(s, onSignal);
  });
}

/**
 * Starts a dedicated `redis-server` on 127.0.0.1 (a free port unless `port`
 * is given, e.g. to restart one on the same port), without persistence, and
 * resolves once it accepts connections. Every server still running when the
 * test process exits (or is stopped by SIGTERM, SIGINT or SIGHUP) is killed.
 */
export async function startRedisServer(opts: { port?: number; timeoutMs?: number; args?: (port: number) => string[] } = {}): Promise<RedisServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(opts.port ?? (await freePort()), opts.timeoutMs ?? 5000, opts.args);
    } catch (err) {
      // A free port can be taken between freePort() and redis-server binding it.
      if (opts.port !== undefined || attempt === 3) throw err;
    }
  }
}

async function launch(port: number, timeoutMs: number, args: (port: number) => string[] = () => []): Promise<RedisServer> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tmpdir(), '--loglevel', 'notice', ...args(port)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  track(child);

  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`redis-server on ${port} not ready after ${timeoutMs} ms`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        cleanup();
        resolve();
      }
    };
    const onExit = () => fail(new Error(`redis-server on ${port} exited at start`));
    const fail = (err: Error) => {
      cleanup();
      child.kill('SIGKILL');
      reject(new Error(`${err.message}:\n${output}`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
    child.once('exit', onExit);
    child.once('error', fail);
  });
  // Keep draining the pipes so the server never blocks on a full one, without
  // keeping the test process alive: a forgotten server dies with it ('exit').
  for (const pipe of [child.stdout, child.stderr] as Array<Socket | null>) pipe?.resume().unref();
  child.unref();

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    stop: () => stopChild(child, 'SIGTERM', 3000),
    kill: () => stopChild(child, 'SIGKILL', 3000),
    pause: () => void child.kill('SIGSTOP'),
    resume: () => void child.kill('SIGCONT'),
  };
}
