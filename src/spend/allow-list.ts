import { LRUCache } from 'lru-cache';
import type { Caller, Tier } from '../auth/caller.js';
import type { Config } from '../config/index.js';
import { AppError } from '../errors/app-error.js';
import { parsePatternList } from './model-pattern.js';

/** The literal pieces of a glob between its `*`s: `a*b` → `['a', 'b']`, `*` → `['', '']`. */
type Glob = readonly string[];
interface Compiled {
  provider: Glob;
  model: Glob;
}

const EVERYTHING: readonly string[] = Object.freeze(['*']);

/**
 * Compiled patterns by their text. Per-key lists come from Postgres on every
 * resolve, so the text is the key; the bound only keeps a churn of distinct
 * patterns from growing memory.
 */
const compiled = new LRUCache<string, Compiled>({ max: 10_000 });

function compile(pattern: string): Compiled {
  let c = compiled.get(pattern);
  if (!c) {
    const slash = pattern.indexOf('/');
    const [provider, model] = slash < 0 ? [pattern, '*'] : [pattern.slice(0, slash), pattern.slice(slash + 1)];
    c = { provider: provider.split('*'), model: model.split('*') };
    compiled.set(pattern, c);
  }
  return c;
}

/**
 * Whether `s` matches a glob, in time linear in `s` per piece: no regular
 * expression, so no backtracking however many `*`s a pattern holds. The
 * leftmost fit of each middle piece is always the best one for the rest.
 */
function matches(glob: Glob, s: string): boolean {
  if (glob.length === 1) return s === glob[0];
  const first = glob[0]!;
  const last = glob[glob.length - 1]!;
  const end = s.length - last.length;
  if (end < first.length || !s.startsWith(first) || !s.endsWith(last)) return false;
  let at = first.length;
  for (let i = 1; i < glob.length - 1; i++) {
    const piece = glob[i]!;
    const found = s.indexOf(piece, at);
    if (found < 0 || found + piece.length > end) return false;
    at = found + piece.length;
  }
  return true;
}

/** Whether `provider/model` matches one of `patterns` (syntax: see model-pattern.ts). */
export function isModelAllowed(patterns: readonly string[], provider: string, model: string): boolean {
  return patterns.some((p) => {
    const c = compile(p);
    return matches(c.provider, provider) && matches(c.model, model);
  });
}

/**
 * Throws a 403 `model_not_allowed` naming the model and what is allowed,
 * unless `provider/model` matches one of `patterns`.
 */
export function assertModelAllowed(patterns: readonly string[], provider: string, model: string): void {
  if (isModelAllowed(patterns, provider, model)) return;
  const allowed = patterns.length ? patterns.join(', ') : 'no model';
  throw new AppError('model_not_allowed', `This key may not use ${provider}/${model}; allowed: ${allowed}.`, {
    provider, model, allowed: [...patterns],
  });
}

/** The tiers' lists, parsed once per config (config is parsed once per process). */
const tierLists = new WeakMap<Config, Readonly<Record<Tier, readonly string[]>>>();

function listsOf(config: Config): Readonly<Record<Tier, readonly string[]>> {
  let lists = tierLists.get(config);
  if (!lists) {
    lists = {
      free: Object.freeze(parsePatternList(config.MODELS_FREE)),
      pro: Object.freeze(parsePatternList(config.MODELS_PRO)),
      enterprise: Object.freeze(parsePatternList(config.MODELS_ENTERPRISE)),
    };
    tierLists.set(config, lists);
  }
  return lists;
}

/**
 * The patterns `caller` may use: the key's own list when it has one, else its
 * tier's (`MODELS_FREE`, `MODELS_PRO`, `MODELS_ENTERPRISE`); the admin key may
 * use every model.
 */
export function allowedModelsOf(config: Config, caller: Caller): readonly string[] {
  if (caller.admin) return EVERYTHING;
  return caller.allowedModels ?? listsOf(config)[caller.tier];
}
