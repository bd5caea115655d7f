import type { AppError } from '../errors/app-error.js';

/** The request field an error is about: `details.param`, else the first validation issue's field or path. */
export function paramOf(err: AppError): string | null {
  const d = err.details as { param?: string; issues?: { path: string; field?: string }[] } | undefined;
  if (d?.param) return d.param;
  const issue = d?.issues?.[0];
  if (!issue) return null;
  const path = issue.path.replace(/^body\/?/, '').replaceAll('/', '.');
  return [path, issue.field].filter(Boolean).join('.') || null;
}

/** A field the route does not support is named as such, rather than as a schema violation. */
export function messageOf(err: AppError): string {
  const field = (err.details as { issues?: { field?: string }[] } | undefined)?.issues?.[0]?.field;
  return field ? `Unsupported parameter: '${field}' is not supported by PromptLab.` : err.message;
}

