import { useEffect, useState } from 'react';

/**
 * Hash routes (#/runs/r123?state=failed): every console URL is served by the one index.html, so
 * the API process needs no fallback route that could shadow an API path. Filters and paging live
 * in the query part, so a link or a reload shows the same list.
 */
function useHash(): string {
  const [hash, setHash] = useState(() => window.location.hash);
  useEffect(() => {
    const on = () => setHash(window.location.hash);
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return hash;
}

export function useRoute(): { path: string[]; query: URLSearchParams; key: string } {
  const hash = useHash();
  const [path, q] = hash.replace(/^#\/?/, '').split('?');
  return { path: path.split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(q ?? ''), key: hash };
}

export function routeQuery(): URLSearchParams {
  return new URLSearchParams(window.location.hash.split('?')[1] ?? '');
}

export function go(path: string): void {
  window.location.hash = path;
}

/** Replaces the query of the current route (no new history entry, so Back leaves the page). */
export function setRouteQuery(values: Record<string, string | undefined>): void {
  const [path] = window.location.hash.replace(/^#/, '').split('?');
  const q = new URLSearchParams(Object.entries(values).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''));
  const qs = q.toString();
  const next = `#${path || '/'}${qs ? `?${qs}` : ''}`;
  if (next === window.location.hash) return;
  history.replaceState(null, '', next);
  window.dispatchEvent(new HashChangeEvent('hashchange'));
}
