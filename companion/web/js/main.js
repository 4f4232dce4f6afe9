// The web UI's entry point: loads who is signed in, then routes. Not signed in: the sign-in
// page (keeping the page asked for). Signed in with no role: the request-access page. Otherwise
// the page the route table names, inside the shell, if the role allows it.
import { html, render, useEffect, useState } from './lib.js';
import { onSessionExpired } from './api.js';
import { loadSession, rememberReturn, safeReturn, takeReturn } from './session.js';
import { here, navigate, useLocation } from './router.js';
import { HOME, pageAllowed, pageNamed } from './routes.js';
import { Bare, Shell } from './shell.js';
import { RequestAccess, SignIn } from './pages/sign_in.js';
import { applyTheme } from './theme.js';

const OUTSIDE = new Set(['sign-in', 'request-access']);

/** Where the browser should be for this session, or null when it is where it should be. */
function redirectFor(session, { segments, query }) {
  const [first] = segments;
  if (!session.signedIn) {
    if (first === 'sign-in') return null;
    const next = first ? safeReturn(here()) : null;
    rememberReturn(next);
    return next ? `/ui/sign-in?next=${encodeURIComponent(next)}` : '/ui/sign-in';
  }
  if (!session.user.role) return first === 'request-access' ? null : '/ui/request-access';
  if (!first || OUTSIDE.has(first)) {
    return safeReturn(query.get('next')) ?? takeReturn() ?? HOME;
  }
  return null;
}

function LazyPage({ page, ...props }) {
  const [loaded, setLoaded] = useState({ page: null, Component: null, error: null });
  useEffect(() => {
    if (loaded.page === page) return;
    page.load().then((module) => setLoaded({ page, Component: module.default, error: null }),
      (error) => setLoaded({ page, Component: null, error }));
  }, [page]);
  if (loaded.error) return html`<p class="error" role="alert">This page failed to load:
    ${String(loaded.error.message ?? loaded.error)}</p>`;
  if (loaded.page !== page) return html`<p class="loading">Loading…</p>`;
  return html`<${loaded.Component} ...${props} />`;
}

function SignedIn({ session, location, onSignedOut }) {
  const [name] = location.segments;
  const page = pageNamed(name);
  let body;
  if (!page) {
    body = html`<h1>Not found</h1><p>There is no page <code>${name}</code>.</p>`;
  } else if (!pageAllowed(page, session)) {
    body = html`<h1>${page.title}</h1><p data-testid="not-allowed">Your role cannot use this
      page.</p>`;
  } else {
    body = html`<${LazyPage} page=${page} session=${session} segments=${location.segments}
      query=${location.query} />`;
  }
  return html`<${Shell} session=${session} current=${name} onSignedOut=${onSignedOut}>
    ${body}<//>`;
}

function App() {
  const location = useLocation();
  const [session, setSession] = useState(null);
  const [failure, setFailure] = useState(null);
  const signedOut = () => setSession((s) => s && { ...s, signedIn: false,
    user: { auth_status: 'logged_out' } });
  useEffect(() => {
    loadSession().then(setSession, setFailure);
    onSessionExpired(signedOut);
  }, []);
  const target = session ? redirectFor(session, location) : null;
  useEffect(() => { if (target) navigate(target, { replace: true }); }, [target]);
  useEffect(() => { document.body.dataset.ready = session ? 'true' : 'false'; }, [session]);

  if (failure) {
    return html`<${Bare}><h1>The companion did not answer</h1>
      <p class="error" role="alert">${failure.message}</p><//>`;
  }
  if (!session || target) return html`<p class="loading">Loading…</p>`;
  if (!session.signedIn) {
    return html`<${Bare}><${SignIn} session=${session} query=${location.query} /><//>`;
  }
  if (!session.user.role) {
    return html`<${Bare}><${RequestAccess} session=${session} onSignedOut=${signedOut} /><//>`;
  }
  return html`<${SignedIn} session=${session} location=${location}
    onSignedOut=${signedOut} />`;
}

applyTheme();
render(html`<${App} />`, document.getElementById('app'));
