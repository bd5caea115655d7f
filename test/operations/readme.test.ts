import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { deletePrefix, REDIS_URL } from '../support/context.js';
import { freePort, spawnCommand, type Proc } from '../support/spawn.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A fenced example of a Markdown file: its file and line, its language, its text, and why it is not run (a `<!-- not run: … -->` line above it). */
interface Example { file: string; lang: string; code: string; line: number; notRun?: string }

/** The `bash`, `sh` and `js` examples of a Markdown file, in order. */
function examplesOf(markdown: string, file: string): Example[] {
  const lines = markdown.split('\n');
  const out: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(bash|sh|js)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const end = lines.indexOf('```', i + 1);
    const above = /^<!-- not run: (.+) -->$/.exec(lines[i - 1] ?? '');
    out.push({ file, lang: open[1]!, code: lines.slice(i + 1, end).join('\n'), line: i + 1, ...(above ? { notRun: above[1]! } : {}) });
    i = end;
  }
  return out;
}

/** The error codes in the JSON bodies a script printed, or that the README's `# →` comments say it prints. */
const errorCodes = (text: string, re = /"error":\{[^{}]*?"code":"([a-z_]+)"/g) => [...text.matchAll(re)].map((m) => m[1]!).sort();

const procs: Proc[] = [];
const dirs: string[] = [];
let prefix: string | undefined;
afterAll(async () => {
  for (const p of procs) if (p.child.exitCode === null) process.kill(-p.child.pid!, 'SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  if (prefix) await deletePrefix(prefix);
});

/** The README, then the docs pages in the order its Documentation table lists them: one reading order, as a newcomer follows it. */
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const pages = ['README.md', ...[...readme.matchAll(/\]\((docs\/[a-z-]+\.md)\)/g)].map((m) => m[1]!)];

describe('the examples of the README and docs/', () => {
  const examples = pages.flatMap((page) => examplesOf(readFileSync(join(ROOT, page), 'utf8'), page));

  it('every shell and Node example runs as written against a fresh npm start, in reading order (only the port differs), with the errors it says it shows', async () => {
    const home = mkdtempSync(join(tmpdir(), 'promptlab-readme-'));
    dirs.push(home);
    const port = await freePort();
    const app = spawnCommand('npm', ['start', '--silent'], {
      PROMPTLAB_DATA_DIR: join(home, '.data'), PORT: String(port), REDIS_URL, LOG_LEVEL: 'warn',
      // Tests run many processes on two cores: a Redis starved of CPU may answer a limiter check later than production's 50 ms.
      RATE_LIMIT_TIMEOUT_MS: '1000',
    });
    procs.push(app);
    await app.waitFor(/PromptLab admin key/, 90_000);
    await new Promise((r) => setTimeout(r, 2000)); // the admin key is printed before the server listens
    for (let i = 0; i < 50 && !(await fetch(`http://127.0.0.1:${port}/ready`).then((r) => r.ok, () => false)); i++) await new Promise((r) => setTimeout(r, 200));
    prefix = readFileSync(join(home, '.data', 'redis-prefix'), 'utf8').trim();
    const local = (code: string) => code.replaceAll('localhost:3000', `localhost:${port}`);

    const run = examples.filter((e) => !e.notRun);
    const shell = run.filter((e) => e.lang !== 'js');
    // One session, in reading order: later examples use what the tour made ($ADMIN, $KEY, $TPL, $JOB).
    const script = ['set -euo pipefail', ...shell.map((e) => `echo "--- ${e.file}:${e.line}"\n${local(e.code)}`)].join('\n');
    const sh = spawnSync('bash', ['-c', script], { cwd: home, encoding: 'utf8', timeout: 120_000, env: { PATH: process.env.PATH, HOME: home } });
    expect(sh.status, `${sh.stdout}\n${sh.stderr}`).toBe(0);
    // The errors it printed are those its comments show: each one marked `# →` (what the line answers), others only where a comment mentions them (what it may answer).
    const said = shell.map((e) => e.code).join('\n');
    const printed = new Set(errorCodes(sh.stdout));
    for (const code of errorCodes(said, /# → .*?"code":"([a-z_]+)"/g)) expect(printed, sh.stdout).toContain(code);
    for (const code of printed) expect(errorCodes(said, /^# .*?"code":"([a-z_]+)"/gm), sh.stdout).toContain(code);

    const admin = readFileSync(join(home, '.data', 'admin-key'), 'utf8').trim();
    const made = await fetch(`http://127.0.0.1:${port}/v1/api-keys`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: '{"name":"readme"}' });
    const key = ((await made.json()) as { key: string }).key;
    const scratch = join(ROOT, 'test', 'artifacts');
    mkdirSync(scratch, { recursive: true });
    for (const e of run.filter((x) => x.lang === 'js')) {
      const file = join(scratch, `${e.file.replace(/\W/g, '-')}-${e.line}.mjs`);
      writeFileSync(file, local(e.code));
      const node = spawnSync(process.execPath, [file], { cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { PATH: process.env.PATH, PROMPTLAB_KEY: key } });
      expect(node.status, `${e.file}:${e.line}\n${node.stdout}\n${node.stderr}`).toBe(0);
    }
  }, 240_000);

  it('an example left out says why, and the tour and the SDK examples are not left out', () => {
    for (const e of examples.filter((x) => x.notRun)) expect(e.notRun!.length, `${e.file}:${e.line}`).toBeGreaterThan(10);
    const tour = readme.indexOf('## Five-minute tour');
    const sdk = readme.indexOf('## Use it from your existing code');
    const lineOf = (at: number) => readme.slice(0, at).split('\n').length;
    expect(examples.filter((e) => e.file === 'README.md' && !e.notRun && e.line > lineOf(tour)).map((e) => e.lang)).toEqual(['bash', 'bash', 'js']);
    expect(lineOf(sdk)).toBeGreaterThan(lineOf(tour));
    expect(pages.length).toBeGreaterThan(10);
  });

  it('the README is what a newcomer reads first, and no page of docs/ runs past ~400 lines', () => {
    expect(readme.split('\n').length).toBeLessThan(300);
    for (const page of pages.slice(1)) expect(readFileSync(join(ROOT, page), 'utf8').split('\n').length, page).toBeLessThanOrEqual(400);
  });
});
