import { homeProject, type Caller } from '../auth/caller.js';
import { chatRequest } from '../adapters/openai-chat/request.js';
import type { ChatCompletionBody } from '../adapters/openai-chat/schema.js';
import type { Config } from '../config/index.js';
import type { Priority } from '../db/schema.js';
import { AppError } from '../errors/app-error.js';
import { assertTemplateSchema, assertUsable, fromTemplate, templateTarget, variableMismatch } from '../generation/build.js';
import { BODY_LIMIT_BYTES } from '../http/json-body.js';
import { inputHash } from '../llm/hash.js';
import type { GenerationRequest } from '../llm/request.js';
import type { ProviderRegistry } from '../providers/registry.js';
import { templateVariables } from '../templates/render.js';
import type { Templates } from '../templates/service.js';
import type { WebhookSpec } from '../webhooks/service.js';

/** `POST /v1/batches`: template items, or chat requests in the OpenAI format. */
export interface BatchRequest {
  templateId?: string;
  items?: { variables?: Record<string, unknown>; customId?: string }[];
  requests?: { customId?: string; body: ChatCompletionBody }[];
  /** @defaultValue 'normal' */
  priority?: Priority;
  webhook?: WebhookSpec;
}

/**
 * A batch's items built and checked, every one before anything is admitted, as the single
 * request each stands for would be (src/generation/build.ts): a bad item is a 400 naming it.
 */
export interface ItemDeps {
  config: Config;
  registry: ProviderRegistry;
  templates: Templates;
}

/** One item built: its request and input hash, where it came from. */
export interface Built {
  request: GenerationRequest;
  hash: string;
  templateId: string | null;
  templateVersion: number | null;
  ttl: number;
  customId: string | null;
  /** The project it runs in: its template's, else the caller's. */
  projectId: string;
}

/** Every item checked before anything is admitted: one bad item is a 400 naming it (and the first few others). */
export async function templateItems(deps: ItemDeps, req: BatchRequest, caller: Caller): Promise<Built[]> {
  if (!req.templateId || !req.items) throw new AppError('bad_request', 'Give templateId and items, or requests.');
  const tpl = await deps.templates.get(req.templateId, caller);
  const used = templateVariables(tpl);
  const target = templateTarget(tpl, deps.registry);
  assertUsable(deps.registry, deps.config, caller, target.provider, target.model);
  assertTemplateSchema(tpl);
  const bad: Record<string, unknown>[] = [];
  const ttl = tpl.cacheTtlSeconds ?? deps.config.CACHE_TTL_SECONDS;
  assertItemSizes(req.items.map((item) => ({ templateId: tpl.id, variables: item.variables ?? {} })), 'POST /v1/generate');
  const out = req.items.map((item, index) => {
    const variables = item.variables ?? {};
    const { missing, unknown } = variableMismatch(used, variables);
    if (missing.length || unknown.length) bad.push({ index, ...(missing.length ? { missing } : {}), ...(unknown.length ? { unknown } : {}) });
    const { request, hash } = fromTemplate(tpl, variables, target);
    return { request, hash, templateId: tpl.id, templateVersion: tpl.version, ttl, customId: item.customId ?? null, projectId: tpl.projectId };
  });
  if (bad.length) throw new AppError('bad_request', `${bad.length} item(s) do not fit the template's variables.`, { items: bad.slice(0, 20) });
  return out;
}

export function chatItems(deps: ItemDeps, requests: NonNullable<BatchRequest['requests']>, caller: Caller): Built[] {
  const checked = new Set<string>();
  const projectId = homeProject(caller);
  assertItemSizes(requests.map((r) => r.body), 'POST /v1/chat/completions');
  return requests.map((r) => {
    const request = chatRequest(deps.registry, r.body);
    const pm = `${request.provider}/${request.model}`;
    if (!checked.has(pm)) {
      assertUsable(deps.registry, deps.config, caller, request.provider, request.model);
      checked.add(pm);
    }
    return { request, hash: inputHash(request, undefined, projectId), templateId: null, templateVersion: null, ttl: deps.config.CACHE_TTL_SECONDS, customId: r.customId ?? null, projectId };
  });
}

/** Each item of a batch is held to the body limit of the single request it stands for: 413 naming those over it. */
function assertItemSizes(items: unknown[], route: string): void {
  const big = items.flatMap((item, index) => {
    const bytes = Buffer.byteLength(JSON.stringify(item));
    return bytes > BODY_LIMIT_BYTES ? [{ index, bytes }] : [];
  });
  if (big.length) {
    throw new AppError('payload_too_large', `${big.length} item(s) are larger than a single ${route} may be (${BODY_LIMIT_BYTES} bytes of JSON).`, { limit: BODY_LIMIT_BYTES, items: big.slice(0, 20) });
  }
}
