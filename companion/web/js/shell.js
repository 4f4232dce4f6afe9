// The frame around every signed-in page: the header (brand, navigation that follows the role,
// the user and their role, light/dark, sign out) and the main landmark the page renders into.
import { html, useEffect, useRef, useState } from './lib.js';
import { Link, navigate } from './router.js';
import { PAGES, pageAllowed } from './routes.js';
import { ROLE_NAMES, signOut } from './session.js';
import { currentTheme, toggleTheme } from './theme.js';

function Nav({ session, current }) {
  const pages = PAGES.filter((page) => pageAllowed(page, session));
  const nav = useRef(null);
  // On a phone the pages scroll sideways in one line: keep the current one in view.
  useEffect(() => {
    nav.current?.querySelector('[aria-current="page"]')?.scrollIntoView({ block: 'nearest',
      inline: 'nearest' });
  }, [current]);
  return html`<nav class="nav" aria-label="Main" ref=${nav}>
    ${pages.map((page) => html`<${Link} href=${`/ui/${page.name}`}
      aria-current=${page.name === current ? 'page' : undefined}
      data-testid=${`nav-${page.name}`}>${page.title}<//>`)}
  </nav>`;
}

function ThemeButton() {
  const [theme, setTheme] = useState(currentTheme());
  const other = theme === 'dark' ? 'light' : 'dark';
  return html`<button type="button" class="icon-button" data-testid="theme-toggle"
    aria-label=${`Switch to the ${other} theme`} title=${`Switch to the ${other} theme`}
    onClick=${() => setTheme(toggleTheme())}>${theme === 'dark' ? '☀' : '☾'}</button>`;
}

function UserMenu({ user, onSignedOut }) {
  const [busy, setBusy] = useState(false);
  const leave = async () => {
    setBusy(true);
    try {
      await signOut();
    } finally {
      setBusy(false);
      navigate('/ui/sign-in', { replace: true });   // first: signing out keeps no page to return to
      onSignedOut();
    }
  };
  const role = ROLE_NAMES[user.role] ?? 'no role';
  return html`<div class="account">
    <span class="user-name" data-testid="user-name" title=${user.username}>${user.username}</span>
    <span class="pill" data-testid="user-role">${role}</span>
    <${ThemeButton} />
    <button type="button" data-testid="sign-out" disabled=${busy} onClick=${leave}>
      Sign out</button>
  </div>`;
}

export function Shell({ session, current, onSignedOut, children }) {
  return html`<a class="skip" href="#main">Skip to content</a>
    <header class="top">
      <${Link} href="/ui/" class="brand" aria-label="Bodhi home">
        <img src="/ui/icon.svg" alt="" width="22" height="22" /><span>Bodhi</span><//>
      <${Nav} session=${session} current=${current} />
      <${UserMenu} user=${session.user} onSignedOut=${onSignedOut} />
    </header>
    <main id="main" tabindex="-1">${children}</main>`;
}

/** The frame for pages before sign-in: brand and theme only. */
export function Bare({ children }) {
  return html`<header class="top">
      <span class="brand"><img src="/ui/icon.svg" alt="" width="22" height="22" />
        <span>Bodhi</span></span>
      <div class="account"><${ThemeButton} /></div>
    </header>
    <main id="main" class="narrow" tabindex="-1">${children}</main>`;
}
