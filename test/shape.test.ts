import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../src/util/project-root.js';

/**
 * The house's shape, read from the code's own relative imports (src/ and workers/): no import
 * cycles, no file over 300 lines, and src/llm/ (the ground floor) importing nothing but itself
 * and src/util/. A feature that does not fit changes the shape first; this keeps that true.
 */
const MAX_LINES = 300;

function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(path.relative(PROJECT_ROOT, p));
    }
  };
  for (const root of ['src', 'workers']) walk(path.join(PROJECT_ROOT, root));
  return out.sort();
}

/** The project files `file` imports (import and export … from, static and side-effect imports). */
function importsOf(file: string, known: Set<string>): string[] {
  const src = fs.readFileSync(path.join(PROJECT_ROOT, file), 'utf8');
  const specs = [
    ...src.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g),
    ...src.matchAll(/(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g),
  ].map((m) => m[1]!).filter((s) => s.startsWith('.'));
  return specs.flatMap((spec) => {
    const base = path.normalize(path.join(path.dirname(file), spec));
    const hit = [base.replace(/\.js$/, '.ts'), base.replace(/\.js$/, '.tsx'), `${base}.ts`, path.join(base, 'index.ts')].find((c) => known.has(c));
    return hit && hit !== file ? [hit] : [];
  });
}

/** Strongly connected components with more than one file (Tarjan). */
function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) found.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe('the shape of src/ and workers/', () => {
  const files = sourceFiles();
  const known = new Set(files);
  const graph = new Map(files.map((f) => [f, importsOf(f, known)]));

  it('reads the whole tree (the parser finds imports at all)', () => {
    expect(files.length).toBeGreaterThan(100);
    expect(graph.get('src/llm/hash.ts')).toContain('src/llm/request.ts');
  });

  it('has no import cycles', () => {
    expect(cycles(graph)).toEqual([]);
  });

  it(`has no file over ${MAX_LINES} lines`, () => {
    const long = files
      .map((f) => ({ f, lines: fs.readFileSync(path.join(PROJECT_ROOT, f), 'utf8').split('\n').length }))
      .filter((x) => x.lines > MAX_LINES)
      .map((x) => `${x.f} ${x.lines}`);
    expect(long).toEqual([]);
  });

  it('keeps src/llm/ the ground floor: it imports only itself and src/util/', () => {
    const up = files
      .filter((f) => f.startsWith('src/llm/'))
      .flatMap((f) => graph.get(f)!.filter((t) => !t.startsWith('src/llm/') && !t.startsWith('src/util/')).map((t) => `${f} -> ${t}`));
    expect(up).toEqual([]);
  });
});
