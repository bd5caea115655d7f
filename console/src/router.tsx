import { useEffect, useState, type AnchorHTMLAttributes, type MouseEvent } from 'react';

/** Client routes under /console, on the History API; the server answers index.html for any of them. */
const BASE = '/console';

const current = () => ({ path: location.pathname.replace(/^\/console/, '') || '/', search: new URLSearchParams(location.search) });

export function navigate(to: string, replace = false): void {
  history[replace ? 'replaceState' : 'pushState'](null, '', BASE + to);
  dispatchEvent(new PopStateEvent('popstate'));
}

export function useRoute() {
  const [route, setRoute] = useState(current);
  useEffect(() => {
    const on = () => {
      setRoute(current());
      window.scrollTo(0, 0);
    };
    addEventListener('popstate', on);
    return () => removeEventListener('popstate', on);
  }, []);
  return route;
}

/** A link to a client route: a real <a href> (new tab, keyboard) that navigates in place on a plain click. */
export function Link({ to, ...rest }: AnchorHTMLAttributes<HTMLAnchorElement> & { to: string }) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return <a href={BASE + to} onClick={onClick} {...rest} />;
}
