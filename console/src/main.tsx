import { lazy, StrictMode, Suspense, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { call, isAdmin, session, type Me } from './api';
import { JobPage, JobsPage } from './pages/Jobs';
import { KeysPage } from './pages/Keys';
import { Playground } from './pages/Playground';
import { SignIn } from './pages/SignIn';
import { TemplateEditor, TemplatesPage } from './pages/Templates';
import { Link, navigate, useRoute } from './router';
import { ErrorNote } from './ui';
import './styles.css';

// Chart.js only loads with the Spend page: the first page stays small.
const SpendPage = lazy(() => import('./pages/Spend'));

type Theme = 'light' | 'dark';
const systemTheme = (): Theme => (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light');

function useTheme() {
  const [chosen, setChosen] = useState<Theme | null>(() => localStorage.getItem('promptlab.theme') as Theme | null);
  const [system, setSystem] = useState<Theme>(systemTheme);
  useEffect(() => {
    const mq = matchMedia('(prefers-color-scheme: dark)');
    const on = () => setSystem(systemTheme());
    mq.addEventListener('change', on);
    return () => mq.removeEventListener('change', on);
  }, []);
  const theme = chosen ?? system;
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
  }, [theme]);
  const toggle = () => {
    const next = theme === 'dark' ? 'light' : 'dark';
    localStorage.setItem('promptlab.theme', next);
    setChosen(next);
  };
  return { theme, toggle };
}

const PAGES = [
  { to: '/templates', label: 'Templates' },
  { to: '/playground', label: 'Playground' },
  { to: '/jobs', label: 'Jobs' },
  { to: '/spend', label: 'Spend' },
];

function App() {
  const { theme, toggle } = useTheme();
  const route = useRoute();
  const [me, setMe] = useState<Me | null>(null);
  const [checking, setChecking] = useState(() => session.key() !== null);
  const [error, setError] = useState<unknown>();

  useEffect(() => {
    if (!session.key()) return;
    call<Me>('GET', '/v1/me')
      .then((r) => setMe(r.body))
      .catch((err) => {
        session.clear();
        setError(err);
      })
      .finally(() => setChecking(false));
  }, []);

  useEffect(() => {
    if (route.path === '/' && me) navigate('/templates', true);
  }, [route.path, me]);

  useEffect(() => {
    const page = [...PAGES, { to: '/keys', label: 'Keys' }].find((p) => route.path.startsWith(p.to));
    document.title = `${me ? (page?.label ?? 'Console') : 'Sign in'} · PromptLab`;
  }, [route.path, me]);

  const signOut = () => {
    session.clear();
    setMe(null);
    navigate('/');
  };

  const themeButton = (
    <button type="button" className="ghost" onClick={toggle} aria-label={`Switch to ${theme === 'dark' ? 'light' : 'dark'} theme`}>
      {theme === 'dark' ? '☀ Light' : '☾ Dark'}
    </button>
  );

  if (checking) return <main id="main"><p>Checking your key…</p></main>;
  if (!me) {
    return (
      <>
        <header className="top"><span className="brand">PromptLab</span><span className="spacer" />{themeButton}</header>
        <main id="main">
          <ErrorNote error={error} />
          <SignIn onSignedIn={(m) => { setMe(m); setError(undefined); navigate(route.path === '/' ? '/templates' : route.path + (route.search.size ? `?${route.search}` : ''), true); }} />
        </main>
      </>
    );
  }

  const p = route.path;
  const seg = p.split('/').filter(Boolean);
  let page;
  if (seg[0] === 'templates' && seg[1]) page = <TemplateEditor id={seg[1] === 'new' ? null : seg[1]} canEdit={isAdmin(me)} />;
  else if (seg[0] === 'templates' || p === '/') page = <TemplatesPage canEdit={isAdmin(me)} />;
  else if (seg[0] === 'playground') page = <Playground templateId={route.search.get('templateId')} />;
  else if (seg[0] === 'jobs' && seg[1]) page = <JobPage id={seg[1]} me={me} />;
  else if (seg[0] === 'jobs') page = <JobsPage />;
  else if (seg[0] === 'spend') page = <Suspense fallback={<p>Loading charts…</p>}><SpendPage me={me} /></Suspense>;
  else if (seg[0] === 'keys') page = <KeysPage me={me} />;
  else page = <p>No page here. <Link to="/templates">Go to Templates</Link>.</p>;

  return (
    <>
      <a href="#main" className="skip">Skip to content</a>
      <header className="top">
        <span className="brand">PromptLab</span>
        <nav aria-label="Console">
          {[...PAGES, ...(isAdmin(me) ? [{ to: '/keys', label: 'Keys' }] : [])].map((x) => (
            <Link key={x.to} to={x.to} aria-current={p.startsWith(x.to) ? 'page' : undefined}>{x.label}</Link>
          ))}
        </nav>
        <nav aria-label="Operations" className="ops">
          {me.role === 'global_admin' ? <a href="/admin/queues">Bull Board</a> : null}
          <a href="/docs">API docs</a>
          <a href="/metrics">Metrics</a>
        </nav>
        <span className="spacer" />
        <span className="who" title={me.keyId}>{me.name ?? 'admin key'} · {me.role.replace('_', ' ')}{me.project ? ` · ${me.project.name}` : ''}{me.tier ? ` · ${me.tier}` : ''}</span>
        {themeButton}
        <button type="button" className="ghost" onClick={signOut}>Sign out</button>
      </header>
      <main id="main" tabIndex={-1}>{page}</main>
    </>
  );
}

createRoot(document.getElementById('root')!).render(<StrictMode><App /></StrictMode>);
