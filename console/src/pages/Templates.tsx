import { useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { call, get, type Template, type TemplateVersion } from '../api';
import { malformed, placeholders, render } from '../placeholders';
import { Link, navigate } from '../router';
import { Empty, ErrorNote, useLoad, when } from '../ui';
import { diffLines } from './diff';

export function TemplatesPage({ canEdit }: { canEdit: boolean }) {
  const [q, setQ] = useState('');
  const { data, error } = useLoad(() => get<{ data: Template[] }>('/v1/templates?limit=500'), []);
  const shown = (data?.data ?? []).filter((t) => !q || `${t.name} ${t.id} ${t.body}`.toLowerCase().includes(q.toLowerCase()));
  return (
    <section>
      <div className="row">
        <h1>Templates</h1>
        <span className="spacer" />
        {canEdit ? <Link to="/templates/new" className="button">New template</Link> : null}
      </div>
      <label htmlFor="search">Search</label>
      <input id="search" type="search" value={q} onChange={(e) => setQ(e.target.value)} placeholder="name, id or text" />
      <ErrorNote error={error} />
      {data && data.data.length === 0 ? (
        <Empty>No templates yet. <Link to="/templates/new">Create your first template</Link>: a prompt with <code>{'{{variables}}'}</code>.</Empty>
      ) : data && shown.length === 0 ? (
        <Empty>No template matches “{q}”. Clear the search to see all {data.data.length}.</Empty>
      ) : (
        <table>
          <thead><tr><th scope="col">Name</th><th scope="col">Variables</th><th scope="col">Version</th><th scope="col">Updated</th><th scope="col"><span className="sr">Actions</span></th></tr></thead>
          <tbody>
            {shown.map((t) => (
              <tr key={t.id}>
                <td><Link to={`/templates/${t.id}`}>{t.name}</Link><div className="muted mono">{t.id}</div></td>
                <td>{t.variables.map((v) => <code key={v} className="var">{v}</code>)}</td>
                <td>v{t.version}</td>
                <td>{when(t.updatedAt)}</td>
                <td><Link to={`/playground?templateId=${t.id}`}>Run</Link></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** A textarea over a highlighted copy of its text: {{variables}} marked, malformed {{ in red. */
function Highlighted({ id, value, onChange, rows, label }: { id: string; value: string; onChange: (v: string) => void; rows: number; label: string }) {
  const back = useRef<HTMLPreElement>(null);
  const parts = useMemo(() => {
    const bad = new Set(malformed(value).map((m) => m.offset));
    const out: { text: string; kind?: 'var' | 'bad' }[] = [];
    const re = /\{\{\s*[A-Za-z_][A-Za-z0-9_.-]*\s*\}\}|\{\{/g;
    let last = 0;
    for (const m of value.matchAll(re)) {
      const at = m.index!;
      const kind = m[0] === '{{' ? (bad.has(at) ? 'bad' : undefined) : 'var';
      if (!kind) continue;
      out.push({ text: value.slice(last, at) }, { text: m[0], kind });
      last = at + m[0].length;
    }
    out.push({ text: value.slice(last) + '\n' });
    return out;
  }, [value]);
  return (
    <div className="editor">
      <pre ref={back} aria-hidden="true">{parts.map((p, i) => (p.kind ? <mark key={i} className={p.kind}>{p.text}</mark> : p.text))}</pre>
      <textarea
        id={id} rows={rows} value={value} spellCheck={false} aria-label={label}
        onChange={(e) => onChange(e.target.value)}
        onScroll={(e) => { if (back.current) back.current.scrollTop = e.currentTarget.scrollTop; }}
      />
    </div>
  );
}

interface Draft { name: string; body: string; system: string; model: string; schema: string }

const draftOf = (t: Template | TemplateVersion): Draft => ({
  name: t.name, body: t.body, system: t.system ?? '', model: t.model ?? '',
  schema: t.outputSchema ? JSON.stringify(t.outputSchema, null, 2) : '',
});

function schemaProblem(text: string): string | undefined {
  if (!text.trim()) return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'An output schema is a JSON object, e.g. {"type": "object", "properties": {…}}.';
    if (!('type' in v) && !('properties' in v) && !('$ref' in v) && !('anyOf' in v) && !('oneOf' in v)) return 'This object has no "type": is it a JSON Schema?';
    return undefined;
  } catch (err) {
    return `Not valid JSON: ${(err as Error).message}`;
  }
}

export function TemplateEditor({ id, canEdit }: { id: string | null; canEdit: boolean }) {
  const [tpl, setTpl] = useState<Template | null>(null);
  const [draft, setDraft] = useState<Draft>({ name: '', body: '', system: '', model: '', schema: '' });
  const [samples, setSamples] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>();
  const [saved, setSaved] = useState<string>();
  const [loadError, setLoadError] = useState<unknown>();
  const versions = useLoad(() => (id ? get<{ data: TemplateVersion[] }>(`/v1/templates/${id}/versions`) : Promise.resolve({ data: [] })), [id, tpl?.version]);

  useEffect(() => {
    if (!id) return;
    get<Template>(`/v1/templates/${id}`).then((t) => { setTpl(t); setDraft(draftOf(t)); }, setLoadError);
  }, [id]);

  const variables = placeholders(draft.body, draft.system);
  const bad = [...malformed(draft.body).map((m) => ({ ...m, field: 'body' })), ...malformed(draft.system).map((m) => ({ ...m, field: 'system' }))];
  const schemaError = schemaProblem(draft.schema);
  const set = (k: keyof Draft) => (v: string) => setDraft((d) => ({ ...d, [k]: v }));

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    setSaved(undefined);
    const body = {
      name: draft.name, body: draft.body, system: draft.system || null, model: draft.model || null,
      outputSchema: draft.schema.trim() ? JSON.parse(draft.schema) as Record<string, unknown> : null,
    };
    try {
      const t = id ? (await call<Template>('PATCH', `/v1/templates/${id}`, body)).body : (await call<Template>('POST', '/v1/templates', body)).body;
      setTpl(t);
      setSaved(`Saved as version ${t.version}.`);
      if (!id) navigate(`/templates/${t.id}`, true);
    } catch (err) {
      setError(err);
    }
  };

  if (loadError) return <ErrorNote error={loadError} />;
  if (id && !tpl) return <p>Loading template…</p>;
  const preview = render(draft.body, Object.fromEntries(variables.map((v) => [v, samples[v] || `‹${v}›`])));
  const previewSystem = draft.system ? render(draft.system, Object.fromEntries(variables.map((v) => [v, samples[v] || `‹${v}›`]))) : '';

  return (
    <section>
      <div className="row">
        <h1>{id ? `Template ${tpl?.name ?? ''}` : 'New template'}</h1>
        <span className="spacer" />
        {tpl ? <span className="muted">v{tpl.version} · {tpl.id}</span> : null}
        {tpl ? <Link to={`/playground?templateId=${tpl.id}`} className="button">Run in playground</Link> : null}
      </div>
      <form onSubmit={save} className="grid2">
        <div>
          <label htmlFor="name">Name</label>
          <input id="name" value={draft.name} onChange={(e) => set('name')(e.target.value)} required />
          <label htmlFor="body">Prompt (use <code>{'{{name}}'}</code> for variables)</label>
          <Highlighted id="body" label="Prompt" rows={8} value={draft.body} onChange={set('body')} />
          <label htmlFor="system">System prompt (optional)</label>
          <Highlighted id="system" label="System prompt" rows={3} value={draft.system} onChange={set('system')} />
          <label htmlFor="model">Model (optional; the provider's default otherwise)</label>
          <input id="model" value={draft.model} onChange={(e) => set('model')(e.target.value)} placeholder="e.g. fake-1 or claude-haiku-4-5" />
          <label htmlFor="schema">Output schema (JSON Schema, optional): answers are checked against it</label>
          <textarea id="schema" rows={8} className="mono" spellCheck={false} value={draft.schema} onChange={(e) => set('schema')(e.target.value)}
            aria-invalid={schemaError ? true : undefined} aria-describedby="schema-check" />
          <p id="schema-check" className={schemaError ? 'bad-text' : 'muted'}>{schemaError ?? (draft.schema.trim() ? 'Valid JSON object.' : 'No schema: the answer is free text.')}</p>
          {bad.length ? (
            <p className="bad-text" role="status">
              {bad.map((b) => `${b.field} line ${b.line}, column ${b.column}: a {{ that does not open a {{variable}}`).join('; ')}. The server refuses it (invalid_template).
            </p>
          ) : null}
          <div className="row">
            {canEdit
              ? <button type="submit" disabled={!!schemaError || !draft.body.trim() || !draft.name.trim()}>{id ? 'Save new version' : 'Create template'}</button>
              : <span className="muted">A member key reads templates; a project admin key changes them.</span>}
            {saved ? <span role="status" className="ok-text">{saved}</span> : null}
          </div>
          <ErrorNote error={error} />
        </div>
        <div>
          <h2>Variables</h2>
          {variables.length === 0 ? <Empty>No variables yet: write <code>{'{{topic}}'}</code> in the prompt.</Empty> : (
            <ul className="vars" aria-label="Variables">
              {variables.map((v) => (
                <li key={v}>
                  <label htmlFor={`sample-${v}`}><code className="var">{v}</code> sample value</label>
                  <input id={`sample-${v}`} value={samples[v] ?? ''} onChange={(e) => setSamples((s) => ({ ...s, [v]: e.target.value }))} />
                </li>
              ))}
            </ul>
          )}
          <h2>Preview</h2>
          {previewSystem ? <pre className="block" aria-label="Rendered system prompt">{previewSystem}</pre> : null}
          <pre className="block" aria-label="Rendered prompt" data-testid="preview">{preview || ' '}</pre>
          {id ? <Versions versions={versions.data?.data ?? []} onLoad={(v) => setDraft(draftOf(v))} /> : null}
        </div>
      </form>
    </section>
  );
}

function Versions({ versions, onLoad }: { versions: TemplateVersion[]; onLoad: (v: TemplateVersion) => void }) {
  const [a, setA] = useState<number>();
  const [b, setB] = useState<number>();
  const left = versions.find((v) => v.version === (a ?? versions[1]?.version));
  const right = versions.find((v) => v.version === (b ?? versions[0]?.version));
  const text = (v: TemplateVersion) => `${v.system ? `[system]\n${v.system}\n\n` : ''}${v.body}${v.outputSchema ? `\n\n[outputSchema]\n${JSON.stringify(v.outputSchema, null, 2)}` : ''}`;
  return (
    <>
      <h2>Versions</h2>
      {versions.length === 0 ? <Empty>Versions are kept from the first save on.</Empty> : (
        <ul className="plain">
          {versions.map((v) => (
            <li key={v.version}>
              v{v.version} · {when(v.createdAt)} · <button type="button" className="link" onClick={() => onLoad(v)}>Load into editor</button>
            </li>
          ))}
        </ul>
      )}
      {versions.length > 1 && left && right ? (
        <>
          <div className="row">
            <label htmlFor="cmp-a">Compare</label>
            <select id="cmp-a" value={left.version} onChange={(e) => setA(Number(e.target.value))}>{versions.map((v) => <option key={v.version} value={v.version}>v{v.version}</option>)}</select>
            <label htmlFor="cmp-b">with</label>
            <select id="cmp-b" value={right.version} onChange={(e) => setB(Number(e.target.value))}>{versions.map((v) => <option key={v.version} value={v.version}>v{v.version}</option>)}</select>
          </div>
          <pre className="block diff" aria-label={`Changes from v${left.version} to v${right.version}`} tabIndex={0}>
            {diffLines(text(left), text(right)).map((d, i) => (
              <span key={i} className={d.kind}>{d.kind === 'add' ? '+ ' : d.kind === 'del' ? '- ' : '  '}{d.line}{'\n'}</span>
            ))}
          </pre>
        </>
      ) : null}
    </>
  );
}
