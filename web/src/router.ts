import { useEffect, useState } from 'preact/hooks';

/** A small history router: the path is state; links push it. */
const listeners = new Set<() => void>();

export function navigate(to: string, replace = false): void {
  if (replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  for (const fn of listeners) fn();
  window.scrollTo(0, 0);
}

export function usePath(): string {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const update = () => setPath(location.pathname);
    listeners.add(update);
    window.addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  return path;
}

/** Follows a same-origin link without a page load (a modified click opens it as usual). */
export function onLinkClick(event: MouseEvent): void {
  const anchor = (event.target as Element).closest('a');
  if (!anchor || anchor.target || anchor.origin !== location.origin || anchor.hasAttribute('download'))
    return;
  if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  if (anchor.pathname.startsWith('/dashboard/') || anchor.pathname.startsWith('/docs')) return;
  event.preventDefault();
  navigate(anchor.pathname + anchor.search + anchor.hash);
}

export const query = (): URLSearchParams => new URLSearchParams(location.search);
/** The token of a mailed link travels in the fragment (`#token=…`), which no server sees. */
export const fragmentParam = (name: string): string | null =>
  new URLSearchParams(location.hash.replace(/^#/, '')).get(name);
