import { LRUCache } from 'lru-cache';
import { homeProject, type Caller } from '../auth/caller.js';
import type { Config } from '../config/index.js';
import type { TemplateRow } from '../db/schema.js';
import { AppError } from '../errors/app-error.js';
import type { ProviderRegistry } from '../providers/registry.js';
import { allowedModelsOf, assertModelAllowed } from '../spend/allow-list.js';
import { checkSchema } from '../templates/output-schema.js';
import { inputHash } from '../llm/hash.js';
import { templateRequest } from '../templates/request.js';
import { DEFAULT_MAX_TOKENS } from '../llm/request.js';
import { type GenerationRequest } from '../llm/request.js';
import type { Capability } from '../llm/capabilities.js';

/** The provider is enabled here, and the key may use the model. */
export function assertUsable(providers: ProviderRegistry, config: Config, caller: Caller, provider: string, model: string): void {
  if (!providers.isEnabled(provider)) {
    const vars = providers.get(provider)?.configVariables.filter((v) => v.endsWith('_KEY') || v.endsWith('_URL')) ?? [];
    const how = vars.length ? ` (set ${vars.join(' or ')} to enable it)` : '';
    throw new AppError('provider_unavailable', `Provider ${provider} is not configured here${how}; ${providers.answeringModels()}.`, { provider });
  }
  const def = providers.get(provider);
  if (def?.allows && !def.allows(model, homeProject(caller))) {
    throw new AppError('model_not_allowed', `This project may not use the model group ${model}.`, { provider, model });
  }
  assertModelAllowed(allowedModelsOf(config, caller), provider, model);
}

/**
 * The provider and model a template runs on: the request's, else the template's, else the
 * registry's defaults. The template's model goes with its own provider only.
 */
export function templateTarget(
  tpl: Pick<TemplateRow, 'provider' | 'model'>, providers: ProviderRegistry, asked: { provider?: string; model?: string } = {},
): { provider: string; model: string } {
  const provider = asked.provider ?? tpl.provider ?? providers.defaultProvider;
  const model = asked.model ?? (tpl.provider === provider && tpl.model ? tpl.model : providers.has(provider) ? providers.defaultModel(provider) : '');
  return { provider, model };
}

/** The variables a template uses that `variables` lacks, and those `variables` has that it does not use. */
export function variableMismatch(used: string[], variables: Record<string, unknown>): { missing: string[]; unknown: string[] } {
  return { missing: used.filter((n) => !Object.hasOwn(variables, n)), unknown: Object.keys(variables).filter((n) => !used.includes(n)) };
}

const schemaChecked = new WeakSet<TemplateRow>();

/**
 * A template's outputSchema compiles here, before anything is paid: one stored before today's
 * checks (dialects, cost) may not. Checked once per template row object (the template cache keeps them).
 */
export function assertTemplateSchema(tpl: TemplateRow): void {
  if (!tpl.outputSchema || schemaChecked.has(tpl)) return;
  checkSchema(tpl.outputSchema, `The outputSchema of template ${tpl.id} (version ${tpl.version})`, 'invalid_template', { templateId: tpl.id });
  schemaChecked.add(tpl);
}

/** Deep-freezes a built request: it is shared by every identical request the memo answers. */
function frozen<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    for (const x of Object.values(v)) frozen(x);
    Object.freeze(v);
  }
  return v;
}

/**
 * Built requests by template row (a new version is a new row) and target and variables: a repeat
 * (every cache hit of a template) skips the render and the input hash. The variables' JSON is the
 * key, so the same variables in another key order only miss the memo.
 */
const built = new WeakMap<TemplateRow, LRUCache<string, { request: GenerationRequest; hash: string }>>();

/** A template's request for `variables`, and its input hash (of the key fields alone when the template names them). */
export function fromTemplate(
  tpl: TemplateRow, variables: Record<string, unknown>, target: { provider: string; model: string },
): { request: GenerationRequest; hash: string } {
  const memoKey = `${target.provider}\0${target.model}\0${JSON.stringify(variables)}`;
  let memo = built.get(tpl);
  const known = memo?.get(memoKey);
  if (known) return known;
  const request = templateRequest(tpl, variables, { ...target, defaultMaxTokens: DEFAULT_MAX_TOKENS });
  const keyVariables = tpl.keyFields ? Object.fromEntries(tpl.keyFields.map((k) => [k, variables[k]])) : undefined;
  const out = { request: frozen(request), hash: inputHash(request, { id: tpl.id, version: tpl.version, ...(keyVariables ? { keyVariables } : {}) }, tpl.projectId) };
  // Small inputs only: a memo of large ones would hold their memory for little gain.
  if (memoKey.length <= 4096) {
    if (!memo) built.set(tpl, (memo = new LRUCache({ max: 1000 })));
    memo.set(memoKey, out);
  }
  return out;
}

/** What a request needs of its provider beyond text chat, as capabilities. */
function needs(r: GenerationRequest): { capability: Capability; what: string } | undefined {
  if (r.embed) return { capability: 'embed', what: 'embeddings' };
  if (r.tools?.length) return { capability: 'tools', what: 'tools' };
  for (const m of r.messages) {
    if (typeof m.content === 'string') continue;
    const media = m.content.find((b) => b.type === 'image' || b.type === 'document' || b.type === 'audio');
    if (media) return { capability: 'vision', what: `${media.type} input` };
  }
  return undefined;
}

/** The provider can take everything the request holds: else a 400 naming what it cannot, before anything is paid. */
export function assertSupported(providers: ProviderRegistry, request: GenerationRequest): void {
  const def = providers.get(request.provider);
  if (!def) return;
  const need = needs(request);
  if (need && !def.capabilities.includes(need.capability)) {
    throw new AppError('bad_request', `Provider ${request.provider} does not take ${need.what}.`, { provider: request.provider, param: need.capability });
  }
  const what = def.unsupported?.(request);
  if (what) throw new AppError('bad_request', `Provider ${request.provider} cannot take ${what}; leave it out or use a model of another provider.`, { provider: request.provider });
}

/** One error naming every missing and every unknown variable: `missing_variables` when any is missing, else `unknown_variables`. */
export function variablesError(missing: string[], unknown: string[], used: string[]): AppError {
  const parts = [
    ...(missing.length ? [`missing template variables: ${missing.join(', ')}`] : []),
    ...(unknown.length ? [`variables the template does not use: ${unknown.join(', ')}`] : []),
  ];
  const message = `${parts.join('; ')} (the template uses: ${used.join(', ') || 'none'}).`;
  return new AppError(missing.length ? 'missing_variables' : 'unknown_variables', message[0]!.toUpperCase() + message.slice(1), {
    ...(missing.length ? { missing } : {}), ...(unknown.length ? { unknown } : {}), expected: used,
  });
}
