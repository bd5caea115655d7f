import { useEffect, useRef, useState, type FormEvent } from 'react';
import { call, get, streamEvents, usd, type Job, type Template, type Usage } from '../api';
import { asVariable } from '../placeholders';
import { Link } from '../router';
import { Badge, Empty, ErrorNote, Pre, statusKind, useLoad } from '../ui';

interface Run {
  jobId?: string;
  status: string;
  cache?: string;
  events: string[];
  text: string;
  json?: unknown;
  usage?: Usage;
  costUsd?: number | null;
  savedUsd?: number | null;
  latencyMs?: number;
  error?: { code: string; message: string };
}

interface GenerateAnswer { jobId: string; status: string; cached: boolean; result?: { text: string; json?: unknown }; usage?: Usage; costUsd?: number | null; error?: Run['error'] }

/** Pick a template (or write chat messages), fill its variables, run, and watch the job live. */
export function Playground({ templateId }: { templateId: string | null }) {
  const [mode, setMode] = useState<'template' | 'chat'>('template');
  return (
    <section>
      <h1>Playground</h1>
      <fieldset className="row">
        <legend>Run</legend>
        <label><input type="radio" name="mode" checked={mode === 'template'} onChange={() => setMode('template')} /> a template</label>
        <label><input type="radio" name="mode" checked={mode === 'chat'} onChange={() => setMode('chat')} /> chat messages (streamed)</label>
      </fieldset>
      {mode === 'template' ? <TemplateRun initial={templateId} /> : <ChatRun />}
    </section>
  );
}

function useRunner() {
  const [run, setRun] = useState<Run | null>(null);
  const [error, setError] = useState<unknown>();
  const abort = useRef<AbortController | null>(null);
  useEffect(() => () => abort.current?.abort(), []);
  const start = () => {
    abort.current?.abort();
    abort.current = new AbortController();
    setError(undefined);
    return { t0: performance.now(), signal: abort.current.signal };
  };
  return { run, setRun, error, setError, start };
}

function TemplateRun({ initial }: { initial: string | null }) {
  const templates = useLoad(() => get<{ data: Template[] }>('/v1/templates?limit=500'), []);
  const [id, setId] = useState(initial ?? '');
  const [values, setValues] = useState<Record<string, string>>({});
  const [fresh, setFresh] = useState(false);
  const { run, setRun, error, setError, start } = useRunner();
  const list = templates.data?.data ?? [];
  const tpl = list.find((t) => t.id === id) ?? (id ? undefined : list[0]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!tpl) return;
    const { t0, signal } = start();
    const update = (patch: Partial<Run>) => setRun((r) => ({ ...(r ?? { status: 'sending', events: [], text: '' }), ...patch }));
    setRun({ status: 'sending', events: [], text: '' });
    try {
      const variables = Object.fromEntries(tpl.variables.map((v) => [v, asVariable(values[v] ?? '')]));
      const res = await call<GenerateAnswer>('POST', '/v1/generate', { templateId: tpl.id, variables }, fresh ? { headers: { 'cache-control': 'no-cache' } } : {});
      const a = res.body;
      const cache = res.headers.get('x-cache') ?? undefined;
      update({ jobId: a.jobId, status: a.status, ...(cache ? { cache } : {}), events: [`${a.status}${a.cached ? ' (from cache)' : ''}`] });
      if (a.cached && a.result) {
        // A hit costs nothing; what it saved is what the generation that produced it cost.
        const job = await get<Job>(`/v1/jobs/${a.jobId}`);
        update({ text: a.result.text, json: a.result.json, usage: job.usage, costUsd: 0, savedUsd: job.costUsd ?? null, latencyMs: performance.now() - t0 });
        return;
      }
      await streamEvents(`/v1/jobs/${a.jobId}/events`, {}, (ev) => {
        const d = JSON.parse(ev.data) as { status?: string; attempt?: number; result?: { text: string; json?: unknown }; usage?: Usage; costUsd?: number | null; error?: Run['error']; text?: string };
        setRun((r) => {
          const cur = r ?? { status: '', events: [], text: '' };
          const line = `${ev.event}${d.attempt ? ` (attempt ${d.attempt})` : ''}${d.error ? `: ${d.error.code}` : ''}`;
          const next: Run = { ...cur, status: d.status ?? cur.status, events: ev.event === 'delta' ? cur.events : [...cur.events, line] };
          if (ev.event === 'delta' && d.text) next.text = cur.text + d.text;
          if (ev.event === 'completed') Object.assign(next, { text: d.result?.text ?? '', json: d.result?.json, usage: d.usage, costUsd: d.costUsd, latencyMs: performance.now() - t0 });
          if (ev.event === 'dead') Object.assign(next, { error: d.error, usage: d.usage, costUsd: d.costUsd, latencyMs: performance.now() - t0 });
          return next;
        });
      }, signal);
    } catch (err) {
      setError(err);
      update({ status: 'error' });
    }
  };

  if (templates.error) return <ErrorNote error={templates.error} />;
  if (templates.data && list.length === 0) return <Empty>No templates to run. <Link to="/templates/new">Create a template</Link> first, or switch to chat messages.</Empty>;
  return (
    <div className="grid2">
      <form onSubmit={submit}>
        <label htmlFor="tpl">Template</label>
        <select id="tpl" value={tpl?.id ?? ''} onChange={(e) => { setId(e.target.value); setRun(null); }}>
          {list.map((t) => <option key={t.id} value={t.id}>{t.name} (v{t.version})</option>)}
        </select>
        {tpl ? (
          <>
            <p className="muted">{tpl.outputSchema ? 'Answers are checked against its output schema.' : 'Free-text answers.'} <Link to={`/templates/${tpl.id}`}>Edit template</Link></p>
            {tpl.variables.length === 0 ? <p className="muted">This template has no variables.</p> : tpl.variables.map((v) => (
              <div key={v}>
                <label htmlFor={`var-${v}`}><code className="var">{v}</code></label>
                <input id={`var-${v}`} value={values[v] ?? ''} onChange={(e) => setValues((s) => ({ ...s, [v]: e.target.value }))} />
              </div>
            ))}
            <label className="check"><input type="checkbox" checked={fresh} onChange={(e) => setFresh(e.target.checked)} /> Skip the cache (Cache-Control: no-cache)</label>
            <button type="submit" disabled={run?.status === 'sending'}>Run</button>
          </>
        ) : null}
        <ErrorNote error={error} />
      </form>
      <RunView run={run} />
    </div>
  );
}

function ChatRun() {
  const models = useLoad(() => get<{ data: { id: string }[] }>('/v1/models'), []);
  const [model, setModel] = useState('');
  const [messages, setMessages] = useState([{ role: 'user', content: '' }]);
  const { run, setRun, error, setError, start } = useRunner();
  const chosen = model || models.data?.data[0]?.id || '';

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const { t0, signal } = start();
    setRun({ status: 'sending', events: [], text: '' });
    try {
      let usage: Usage | undefined;
      const headers = await streamEvents('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: chosen, messages, stream: true, stream_options: { include_usage: true } }),
      }, (ev) => {
        if (ev.data === '[DONE]') return;
        const chunk = JSON.parse(ev.data) as { choices?: { delta?: { content?: string } }[]; usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number } };
        if (chunk.usage) usage = { inputTokens: chunk.usage.prompt_tokens, outputTokens: chunk.usage.completion_tokens, totalTokens: chunk.usage.total_tokens };
        const delta = chunk.choices?.[0]?.delta?.content ?? '';
        setRun((r) => (r ? { ...r, status: 'streaming', text: r.text + delta } : r));
      }, signal);
      const jobId = headers.get('x-promptlab-job-id') ?? undefined;
      const job = jobId ? await get<Job>(`/v1/jobs/${jobId}`).catch(() => undefined) : undefined;
      const cache = headers.get('x-cache') ?? undefined;
      setRun((r) => ({
        ...(r ?? { events: [], text: '' }), status: 'completed', ...(jobId ? { jobId } : {}), ...(cache ? { cache } : {}),
        usage: usage ?? job?.usage, costUsd: cache === 'HIT' ? 0 : job?.costUsd, ...(cache === 'HIT' ? { savedUsd: job?.costUsd ?? null } : {}),
        latencyMs: performance.now() - t0,
      }));
    } catch (err) {
      setError(err);
      setRun((r) => (r ? { ...r, status: 'error' } : r));
    }
  };

  return (
    <div className="grid2">
      <form onSubmit={submit}>
        <label htmlFor="model">Model</label>
        <select id="model" value={chosen} onChange={(e) => setModel(e.target.value)}>
          {(models.data?.data ?? []).map((m) => <option key={m.id} value={m.id}>{m.id}</option>)}
        </select>
        {messages.map((m, i) => (
          <div key={i} className="message">
            <label htmlFor={`role-${i}`}>Message {i + 1} role</label>
            <select id={`role-${i}`} value={m.role} onChange={(e) => setMessages((ms) => ms.map((x, j) => (j === i ? { ...x, role: e.target.value } : x)))}>
              <option value="system">system</option><option value="user">user</option><option value="assistant">assistant</option>
            </select>
            <label htmlFor={`content-${i}`}>Message {i + 1} content</label>
            <textarea id={`content-${i}`} rows={3} value={m.content} onChange={(e) => setMessages((ms) => ms.map((x, j) => (j === i ? { ...x, content: e.target.value } : x)))} required />
          </div>
        ))}
        <div className="row">
          <button type="button" className="ghost" onClick={() => setMessages((ms) => [...ms, { role: 'user', content: '' }])}>Add message</button>
          <button type="submit" disabled={!chosen || run?.status === 'sending' || run?.status === 'streaming'}>Send</button>
        </div>
        <ErrorNote error={error ?? models.error} />
      </form>
      <RunView run={run} />
    </div>
  );
}

function RunView({ run }: { run: Run | null }) {
  if (!run) return <Empty>Fill the form and run: the status, answer, tokens, cost and latency show here as they happen.</Empty>;
  const done = run.status === 'completed' || run.status === 'dead';
  return (
    <div className="run" aria-live="polite">
      <div className="row">
        <Badge kind={statusKind(run.status)} label={`Status ${run.status}`}>{run.status}</Badge>
        {run.cache ? <Badge kind={run.cache === 'HIT' ? 'hit' : 'info'} label={`X-Cache ${run.cache}`}>X-Cache: {run.cache}</Badge> : null}
        {run.jobId ? <Link to={`/jobs/${run.jobId}`}>Job {run.jobId}</Link> : null}
      </div>
      <dl className="facts">
        <dt>Tokens</dt><dd data-testid="tokens">{run.usage ? `${run.usage.inputTokens} in · ${run.usage.outputTokens} out` : '—'}</dd>
        <dt>Cost</dt><dd data-testid="cost">{done || run.costUsd !== undefined ? usd(run.costUsd) : '—'}</dd>
        {run.savedUsd !== undefined ? (<><dt>Saved by the cache</dt><dd data-testid="saved">{usd(run.savedUsd)}</dd></>) : null}
        <dt>Latency</dt><dd data-testid="latency">{run.latencyMs !== undefined ? `${Math.round(run.latencyMs)} ms` : '—'}</dd>
      </dl>
      {run.error ? <div role="alert" className="error"><strong>{run.error.code}</strong>: {run.error.message}</div> : null}
      <h2>Answer</h2>
      {run.json !== undefined ? <Pre value={run.json} label="Answer (JSON)" /> : <Pre value={run.text || (done ? '' : '…')} label="Answer" />}
      <h2>Events</h2>
      <ol className="timeline" aria-label="Events">{run.events.map((e, i) => <li key={i}>{e}</li>)}</ol>
    </div>
  );
}
