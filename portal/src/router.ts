import { useEffect, useState } from 'preact/hooks';

// Hash routing: `/portal/#/users`. The server only ever serves index.html; the route lives in the
// fragment, which never reaches the server and survives msal's redirect round trip.

/** The current route: the fragment after `#`, always starting with `/` (`/` when empty). */
export function currentPath(): string {
  const h = window.location.hash.replace(/^#/, '');
  return h.startsWith('/') ? h.split('?')[0]! : '/';
}

export function useRoute(): string {
  const [path, setPath] = useState(currentPath());
  useEffect(() => {
    const on = () => setPath(currentPath());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return path;
}

/** The href of a route, for <a> elements. */
export const href = (path: string): string => `#${path}`;

export function navigate(path: string): void {
  window.location.hash = path;
}
