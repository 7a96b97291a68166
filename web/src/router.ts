import { useEffect, useState } from 'react';

/**
 * Hash routes (#/runs/r123): every console URL is served by the one index.html, so the API
 * process needs no fallback route that could shadow an API path.
 */
export function useRoute(): string[] {
  const [hash, setHash] = useState(() => window.location.hash);
  useEffect(() => {
    const on = () => setHash(window.location.hash);
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  const path = hash.replace(/^#\/?/, '').split('?')[0];
  return path.split('/').filter(Boolean).map(decodeURIComponent);
}

export function routeQuery(): URLSearchParams {
  const q = window.location.hash.split('?')[1] ?? '';
  return new URLSearchParams(q);
}

export function go(path: string): void {
  window.location.hash = path;
}
