import { useState, type FormEvent } from 'react';
import { call, session, type Me } from '../api';
import { ErrorNote } from '../ui';

export function SignIn({ onSignedIn }: { onSignedIn: (me: Me) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      const me = (await call<Me>('GET', '/v1/me', undefined, { key: key.trim() })).body;
      session.set(key.trim());
      onSignedIn(me);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="signin">
      <h1>Sign in to the PromptLab console</h1>
      <p>
        Use an API key, or the admin key: <code>npm start</code> prints it once and keeps it in <code>.data/admin-key</code>.
        The key stays in this tab only (session storage).
      </p>
      <form onSubmit={submit}>
        <label htmlFor="key">API key</label>
        <input id="key" type="password" autoComplete="off" value={key} onChange={(e) => setKey(e.target.value)} required autoFocus />
        <button type="submit" disabled={busy || !key.trim()}>{busy ? 'Checking…' : 'Sign in'}</button>
      </form>
      <ErrorNote error={error} />
    </section>
  );
}
