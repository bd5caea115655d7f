import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';

/**
 * Sends `signal` to a child process and resolves once it has exited,
 * escalating to SIGKILL after `killAfterMs`. A stopped (SIGSTOP) child is
 * continued first, as it would otherwise hold the signal until resumed.
 */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', killAfterMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGCONT');
  child.kill(signal);
  const escalate = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  await exited;
  clearTimeout(escalate);
}
