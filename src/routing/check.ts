import { BlockedAddressError, resolveAllowed } from '../http/address.js';
import type { Deployment, Group, RoutingDocument } from './document.js';

/** What checking a routing document needs: the environment its `apiKeyEnv`s name, and whether upstreams may be private. */
export interface CheckContext {
  env: Readonly<Record<string, string | undefined>>;
  allowPrivate: boolean;
}

function duplicates(names: string[]): string | undefined {
  const seen = new Set<string>();
  return names.find((n) => (seen.has(n) ? true : (seen.add(n), false)));
}

/** The problems of one scope's deployments and groups (global, or a project's with the global ones visible). */
function scopeProblems(where: string, deployments: Deployment[], groups: Group[], visibleDeployments: Set<string>, visibleGroups: Set<string>, ctx: CheckContext): string[] {
  const out: string[] = [];
  const dd = duplicates(deployments.map((d) => d.name));
  if (dd) out.push(`${where}: deployment ${JSON.stringify(dd)} is declared twice`);
  const dg = duplicates(groups.map((g) => g.name));
  if (dg) out.push(`${where}: group ${JSON.stringify(dg)} is declared twice`);
  for (const d of deployments) {
    if (d.provider === 'openai-compatible' && !d.baseUrl) out.push(`${where}: deployment ${d.name} (openai-compatible) needs a baseUrl`);
    if (d.apiKeyEnv && !ctx.env[d.apiKeyEnv]) out.push(`${where}: deployment ${d.name} names apiKeyEnv ${d.apiKeyEnv}, which is not set`);
    if (d.provider === 'anthropic' && !d.apiKeyEnv) out.push(`${where}: deployment ${d.name} (anthropic) needs an apiKeyEnv`);
    if (d.provider === 'openai' && !d.apiKeyEnv && !d.baseUrl) out.push(`${where}: deployment ${d.name} (openai) needs an apiKeyEnv (or a baseUrl of a server that needs none)`);
  }
  for (const g of groups) {
    const missing = g.deployments.find((n) => !visibleDeployments.has(n));
    if (missing) out.push(`${where}: group ${g.name} names deployment ${JSON.stringify(missing)}, which is not declared`);
    for (const f of [...(g.fallbacks ?? []), ...(g.contextFallback ? [g.contextFallback] : [])]) {
      if (!visibleGroups.has(f)) out.push(`${where}: group ${g.name} falls back to ${JSON.stringify(f)}, which is not a group`);
      if (f === g.name) out.push(`${where}: group ${g.name} falls back to itself`);
    }
  }
  return out;
}

/**
 * Whether an upstream's host may be reached: an address, or a name resolving to one, that is
 * loopback, private or link-local is refused. A name that does not resolve now is let through:
 * DNS down at boot must not stop PromptLab, and its calls fail over as unreachable until it does.
 */
async function addressProblem(d: Deployment, ctx: CheckContext): Promise<string | undefined> {
  if (!d.baseUrl || ctx.allowPrivate) return undefined;
  try {
    await resolveAllowed(new URL(d.baseUrl).hostname, false);
    return undefined;
  } catch (err) {
    if (!(err instanceof BlockedAddressError)) return undefined;
    return `deployment ${d.name}: ${err.message}; set PROVIDERS_ALLOW_PRIVATE=true to allow upstreams on loopback or private addresses`;
  }
}

/**
 * Everything a routing document must hold beyond its shape, each problem one line: names unique,
 * references declared, the key variables set, base URLs where needed and on public addresses
 * (unless `allowPrivate`), and projects' sections in terms of what they can see.
 */
export async function checkDocument(doc: RoutingDocument, ctx: CheckContext): Promise<string[]> {
  const globalDeployments = new Set(doc.deployments.map((d) => d.name));
  const globalGroups = new Set(doc.groups.map((g) => g.name));
  const out = scopeProblems('routes', doc.deployments, doc.groups, globalDeployments, globalGroups, ctx);
  const projects = doc.projects ?? [];
  const dp = duplicates(projects.map((p) => p.project));
  if (dp) out.push(`routes: project ${dp} has two sections`);
  for (const p of projects) {
    const own = p.deployments ?? [];
    const clash = own.find((d) => globalDeployments.has(d.name));
    if (clash) out.push(`project ${p.project}: deployment ${clash.name} is also a global deployment; give it another name`);
    const deployments = new Set([...globalDeployments, ...own.map((d) => d.name)]);
    const groups = new Set([...globalGroups, ...(p.groups ?? []).map((g) => g.name)]);
    out.push(...scopeProblems(`project ${p.project}`, own, p.groups ?? [], deployments, groups, ctx));
    const unknown = (p.allow ?? []).find((n) => !groups.has(n));
    if (unknown) out.push(`project ${p.project}: allow names ${JSON.stringify(unknown)}, which is not a group`);
  }
  const all = [...doc.deployments, ...projects.flatMap((p) => p.deployments ?? [])];
  for (const problem of await Promise.all(all.map((d) => addressProblem(d, ctx)))) if (problem) out.push(problem);
  return out;
}
