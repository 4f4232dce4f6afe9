// History routing under /ui/: the companion answers index.html for any /ui/<page> that is not a
// file, so a reload or a bookmark lands on the same page. navigate() and <Link> move without a
// reload; useLocation() re-renders on every move (ours, back or forward).
import { html, useEffect, useState } from './lib.js';

export const BASE = '/ui/';
const MOVED = 'bodhi:navigate';

export function here() {
  return `${window.location.pathname}${window.location.search}`;
}

export function navigate(to, { replace = false } = {}) {
  if (to === here()) return;
  window.history[replace ? 'replaceState' : 'pushState'](null, '', to);
  window.dispatchEvent(new Event(MOVED));
}

/** {path, query, segments}: segments after /ui/, e.g. ['chat', '<id>']. */
export function parse(location = window.location) {
  const path = location.pathname;
  const rest = path.startsWith(BASE) ? path.slice(BASE.length) : '';
  return { path, query: new URLSearchParams(location.search),
    segments: rest.split('/').filter(Boolean).map(decodeURIComponent) };
}

export function useLocation() {
  const [location, setLocation] = useState(parse());
  useEffect(() => {
    const moved = () => setLocation(parse());
    window.addEventListener('popstate', moved);
    window.addEventListener(MOVED, moved);
    return () => {
      window.removeEventListener('popstate', moved);
      window.removeEventListener(MOVED, moved);
    };
  }, []);
  return location;
}

function plainClick(event) {
  return event.button === 0 && !event.metaKey && !event.ctrlKey && !event.shiftKey
    && !event.altKey;
}

export function Link({ href, children, ...rest }) {
  const click = (event) => {
    if (!plainClick(event)) return;
    event.preventDefault();
    navigate(href);
  };
  return html`<a href=${href} onClick=${click} ...${rest}>${children}</a>`;
}
