import { useState, type FormEvent } from 'react';
import { call, get, isAdmin, usd, type BudgetStatus, type Me } from '../api';
import { Badge, Empty, ErrorNote, useLoad, when } from '../ui';

interface ApiKey {
  id: string; name: string; prefix?: string; role?: string; tier: string; projectId?: string;
  createdAt?: string; lastUsedAt?: string | null; expiresAt?: string | null; revokedAt?: string | null;
  allowedModels: string[] | null; budgets: BudgetStatus[];
}

/** Admin: list, create (the secret shown once), revoke; GET/POST /v1/api-keys, DELETE /v1/api-keys/:id. */
export function KeysPage({ me }: { me: Me }) {
  const keys = useLoad(() => get<{ data: ApiKey[] }>('/v1/api-keys'), []);
  const [name, setName] = useState('');
  const [tier, setTier] = useState('pro');
  const [daily, setDaily] = useState('');
  const [created, setCreated] = useState<{ name: string; key: string }>();
  const [error, setError] = useState<unknown>();
  const [note, setNote] = useState<string>();

  if (!isAdmin(me)) return <Empty>Keys are managed with an admin key: sign in with one to see this page.</Empty>;

  const create = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      const budgets = daily ? [{ usd: Number(daily), period: 'day' }] : undefined;
      const k = (await call<ApiKey & { key: string }>('POST', '/v1/api-keys', { name, tier, ...(budgets ? { budgets } : {}) })).body;
      setCreated({ name: k.name, key: k.key });
      setName('');
      setDaily('');
      void keys.reload();
    } catch (err) {
      setError(err);
    }
  };
  const revoke = async (k: ApiKey) => {
    if (!confirm(`Revoke ${k.name}? Requests with it are refused from now on.`)) return;
    try {
      await call('DELETE', `/v1/api-keys/${k.id}`);
      setNote(`Revoked ${k.name}.`);
      void keys.reload();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section>
      <h1>API keys</h1>
      <form onSubmit={create} className="filters">
        <div><label htmlFor="k-name">Name</label><input id="k-name" value={name} onChange={(e) => setName(e.target.value)} required /></div>
        <div><label htmlFor="k-tier">Tier</label>
          <select id="k-tier" value={tier} onChange={(e) => setTier(e.target.value)}><option>free</option><option>pro</option><option>enterprise</option></select></div>
        <div><label htmlFor="k-budget">Daily budget in USD (optional)</label><input id="k-budget" type="number" min="0" step="any" value={daily} onChange={(e) => setDaily(e.target.value)} /></div>
        <div><button type="submit">Create key</button></div>
      </form>
      {created ? (
        <div role="status" className="secret">
          <p>Key <strong>{created.name}</strong> created. Copy it now: it is shown once, only its hash is kept.</p>
          <code data-testid="new-key" tabIndex={0}>{created.key}</code>{' '}
          <button type="button" className="ghost" onClick={() => void navigator.clipboard?.writeText(created.key)}>Copy</button>
        </div>
      ) : null}
      {note ? <p role="status" className="ok-text">{note}</p> : null}
      <ErrorNote error={error} />
      {keys.error ? (
        <div role="alert" className="error">Cannot list keys: {(keys.error as Error).message}. Reload the page; if it persists, check the API's /ready.</div>
      ) : keys.data && keys.data.data.length === 0 ? (
        <Empty>No API keys yet: create one above and give it to a client.</Empty>
      ) : (
        <table>
          <thead><tr><th scope="col">Name</th><th scope="col">Key</th><th scope="col">Tier / role</th><th scope="col">Budgets</th><th scope="col">Last used</th><th scope="col">State</th><th scope="col"><span className="sr">Actions</span></th></tr></thead>
          <tbody>
            {(keys.data?.data ?? []).map((k) => (
              <tr key={k.id}>
                <td>{k.name}</td>
                <td className="mono">{k.prefix ?? k.id}</td>
                <td>{k.tier}{k.role ? ` · ${k.role}` : ''}</td>
                <td>{k.budgets.length ? k.budgets.map((b) => `${usd(b.spentUsd)} of ${usd(b.usd)}/${b.period}`).join(', ') : '—'}</td>
                <td>{when(k.lastUsedAt ?? undefined)}</td>
                <td>{k.revokedAt ? <Badge kind="bad">revoked</Badge> : <Badge kind="ok">active</Badge>}</td>
                <td>{k.revokedAt ? null : <button type="button" className="ghost" onClick={() => void revoke(k)} aria-label={`Revoke ${k.name}`}>Revoke</button>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
