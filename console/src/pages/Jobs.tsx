import { useEffect, useState } from 'react';
import { call, get, isAdmin, streamEvents, usd, type Job, type Me, type Template } from '../api';
import { Link } from '../router';
import { Badge, Empty, ErrorNote, Pre, statusKind, useLoad, when } from '../ui';

const STATUSES = ['queued', 'active', 'failed', 'completed', 'dead'];
const SINCE: Record<string, number> = { '15 minutes': 15 * 60e3, 'hour': 3600e3, 'day': 86400e3, 'week': 7 * 86400e3 };

/** Jobs, newest first, filtered on the server, refreshed every 2 s. */
export function JobsPage() {
  const [status, setStatus] = useState('');
  const [templateId, setTemplateId] = useState('');
  const [apiKeyId, setApiKeyId] = useState('');
  const [since, setSince] = useState('');
  const templates = useLoad(() => get<{ data: Template[] }>('/v1/templates?limit=500'), []);
  const query = new URLSearchParams({ limit: '50' });
  if (status) query.set('status', status);
  if (templateId) query.set('templateId', templateId);
  if (/^(admin|key_[A-Za-z0-9_-]+)$/.test(apiKeyId.trim())) query.set('apiKeyId', apiKeyId.trim());
  const sinceMs = SINCE[since];
  if (sinceMs) query.set('since', new Date(Date.now() - sinceMs).toISOString());
  const qs = query.toString().replace(/since=[^&]*/, `since=${since}`); // the window, not the instant, decides a reload
  const jobs = useLoad(() => get<{ data: Job[] }>(`/v1/jobs?${query}`), [qs], 2000);
  const names = new Map((templates.data?.data ?? []).map((t) => [t.id, t.name]));

  return (
    <section>
      <h1>Jobs</h1>
      <div className="filters">
        <div><label htmlFor="f-status">Status</label>
          <select id="f-status" value={status} onChange={(e) => setStatus(e.target.value)}><option value="">any</option>{STATUSES.map((s) => <option key={s}>{s}</option>)}</select></div>
        <div><label htmlFor="f-tpl">Template</label>
          <select id="f-tpl" value={templateId} onChange={(e) => setTemplateId(e.target.value)}><option value="">any</option>{(templates.data?.data ?? []).map((t) => <option key={t.id} value={t.id}>{t.name}</option>)}</select></div>
        <div><label htmlFor="f-key">Key id</label>
          <input id="f-key" value={apiKeyId} onChange={(e) => setApiKeyId(e.target.value)} placeholder="key_… or admin" /></div>
        <div><label htmlFor="f-since">Created in the last</label>
          <select id="f-since" value={since} onChange={(e) => setSince(e.target.value)}><option value="">any time</option>{Object.keys(SINCE).map((s) => <option key={s}>{s}</option>)}</select></div>
      </div>
      <ErrorNote error={jobs.error} />
      {jobs.data && jobs.data.data.length === 0 ? (
        <Empty>No jobs {status || templateId || apiKeyId || since ? 'match these filters; clear them to see all' : <>yet. <Link to="/playground">Run a template in the playground</Link></>}.</Empty>
      ) : (
        <table aria-live="polite">
          <thead><tr><th scope="col">Job</th><th scope="col">Status</th><th scope="col">Template</th><th scope="col">Model</th><th scope="col">Key</th><th scope="col">Cost</th><th scope="col">Created</th></tr></thead>
          <tbody>
            {(jobs.data?.data ?? []).map((j) => (
              <tr key={j.id}>
                <td><Link to={`/jobs/${j.id}`} className="mono">{j.id}</Link></td>
                <td><Badge kind={statusKind(j.status)}>{j.status}</Badge></td>
                <td>{j.templateId ? `${names.get(j.templateId) ?? j.templateId} v${j.templateVersion}` : '—'}</td>
                <td>{j.provider}/{j.model}</td>
                <td className="mono">{j.apiKeyId}</td>
                <td>{usd(j.costUsd)}</td>
                <td>{when(j.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

interface TimelineEvent { event: string; at: string; detail: string }

export function JobPage({ id, me }: { id: string; me: Me }) {
  const [job, setJob] = useState<Job>();
  const [error, setError] = useState<unknown>();
  const [events, setEvents] = useState<TimelineEvent[]>([]);
  const [replayed, setReplayed] = useState<string>();
  const [round, setRound] = useState(0);

  useEffect(() => {
    const ctl = new AbortController();
    setEvents([]);
    get<Job>(`/v1/jobs/${id}`).then(setJob, setError);
    void streamEvents(`/v1/jobs/${id}/events`, {}, (ev) => {
      const d = JSON.parse(ev.data) as { attempt?: number; error?: { code: string }; replay?: boolean };
      if (ev.event === 'delta') return;
      const detail = [d.attempt ? `attempt ${d.attempt}` : '', d.error ? d.error.code : '', d.replay ? 'replay' : ''].filter(Boolean).join(', ');
      // A Redis stream id starts with the milliseconds it was written at.
      const ms = Number(ev.id?.split('-')[0]);
      setEvents((es) => [...es, { event: ev.event, at: new Date(Number.isFinite(ms) && ms > 0 ? ms : Date.now()).toLocaleTimeString(), detail }]);
      // Each event changes the record: read it again.
      get<Job>(`/v1/jobs/${id}`).then(setJob, () => {});
    }, ctl.signal).catch((err: unknown) => { if (!ctl.signal.aborted) setError(err); });
    return () => ctl.abort();
  }, [id, round]);

  const replay = async () => {
    try {
      await call('POST', `/v1/admin/dead-letters/${id}/replay`);
      setReplayed('Replayed: the job is queued again with a fresh set of attempts.');
      setRound((r) => r + 1);
    } catch (err) {
      setError(err);
    }
  };

  if (!job) return error ? <ErrorNote error={error} /> : <p>Loading job…</p>;
  return (
    <section>
      <div className="row">
        <h1>Job <span className="mono">{job.id}</span></h1>
        <Badge kind={statusKind(job.status)} label={`Status ${job.status}`}>{job.status}</Badge>
        <span className="spacer" />
        {job.status === 'dead' && isAdmin(me) ? <button type="button" onClick={replay}>Replay</button> : null}
      </div>
      {replayed ? <p role="status" className="ok-text">{replayed}</p> : null}
      <ErrorNote error={error} />
      <dl className="facts">
        <dt>Template</dt><dd>{job.templateId ? <Link to={`/templates/${job.templateId}`}>{job.templateId} v{job.templateVersion}</Link> : 'none (chat request)'}</dd>
        <dt>Model</dt><dd>{job.provider}/{job.model}</dd>
        <dt>Key</dt><dd className="mono">{job.apiKeyId}</dd>
        <dt>Attempts</dt><dd>{job.attempts}</dd>
        <dt>Tokens</dt><dd>{job.usage ? `${job.usage.inputTokens} in · ${job.usage.outputTokens} out` : '—'}</dd>
        <dt>Cost</dt><dd data-testid="job-cost">{usd(job.costUsd)}</dd>
        <dt>Created</dt><dd>{when(job.createdAt)}</dd>
        <dt>Completed</dt><dd>{when(job.completedAt)}</dd>
        {job.traceId && <><dt>Trace</dt><dd className="mono" data-testid="job-trace">{job.traceId}</dd></>}
      </dl>
      {job.error ? <div role="alert" className="error"><strong>{job.error.code}</strong>: {job.error.message}{job.status === 'dead' && !isAdmin(me) ? ' An admin can replay it.' : ''}</div> : null}
      <div className="grid2">
        <div>
          <h2>Prompt</h2>
          {job.system ? <Pre value={job.system} label="System prompt" /> : null}
          {(job.messages ?? []).map((m, i) => <div key={i}><div className="muted">{m.role}</div><Pre value={m.content} label={`${m.role} message`} /></div>)}
        </div>
        <div>
          <h2>Result</h2>
          {job.result ? <Pre value={job.result.json !== undefined ? job.result.json : job.result.text} label="Result" /> : <Empty>No result {job.status === 'dead' ? '(the job died)' : 'yet'}.</Empty>}
          <h2>Events</h2>
          {events.length === 0 ? <Empty>Waiting for events…</Empty> : (
            <ol className="timeline" aria-label="Event timeline">{events.map((e, i) => <li key={i}><strong>{e.event}</strong>{e.detail ? ` (${e.detail})` : ''} <span className="muted">at {e.at}</span></li>)}</ol>
          )}
        </div>
      </div>
    </section>
  );
}
