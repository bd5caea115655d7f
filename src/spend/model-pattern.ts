/**
 * The syntax of a model allow-list pattern, shared by the config schema and the
 * API-key routes: `*` (every model of every provider) or `provider/model`, where
 * either side may hold `*` globs (`anthropic/claude-haiku-*`, `openai/gpt-4o*`, `openai/*`).
 * A model side may contain `/` (vLLM's `meta-llama/…`); nothing else is special.
 */
const ONE = '(?:\\*|[A-Za-z0-9_*-]{1,50}/[A-Za-z0-9._:@/*-]{1,200})';

/** One pattern, anchored (JSON Schema `pattern`). */
export const MODEL_PATTERN = `^${ONE}$`;

/** A comma-separated list of patterns, spaces allowed around the commas (the `MODELS_<TIER>` variables). */
export const MODEL_PATTERN_LIST = `^\\s*${ONE}(?:\\s*,\\s*${ONE})*\\s*$`;

/** The patterns of a list that matched {@link MODEL_PATTERN_LIST}. */
export const parsePatternList = (list: string): string[] => list.split(',').map((p) => p.trim()).filter(Boolean);
