// Before the app: the sign-in page (the owner's one-time link in local mode, the identity
// provider in OIDC mode) and, for a signed-in user with no role yet, the request-access page.
import { html, useEffect, useState } from '../lib.js';
import { api } from '../api.js';
import { rememberReturn, safeReturn, signOut } from '../session.js';
import { navigate } from '../router.js';
import { useEvents } from '../events.js';

function LocalSignIn() {
  return html`<p>This companion signs in its owner with a one-time link, made on the computer
      it runs on. Either:</p>
    <ol class="steps">
      <li>click <strong>Open web UI</strong> in the Bodhi browser extension's popup, or</li>
      <li>run <code>bodhi open</code> in a terminal: it opens the link in your browser (or
        prints it: open it within a minute).</li>
    </ol>
    <p class="muted">The link works once. It signs you in as the owner, with the admin role.</p>`;
}

function OidcSignIn({ next }) {
  // A plain link: GET /bodhi/v1/auth/initiate sends the browser to the identity provider,
  // which comes back to the companion and then to the web UI.
  return html`<p>Sign in with your account at this companion's identity provider.</p>
    <p><a class="button primary" data-testid="sign-in-oidc" href="/bodhi/v1/auth/initiate"
      onClick=${() => rememberReturn(next)}>Sign in</a></p>
    <p class="muted">The owner of the computer it runs on can also sign in with
      <code>bodhi open</code>.</p>`;
}

export function SignIn({ session, query }) {
  const next = safeReturn(query.get('next'));
  const mode = session.info.auth_mode;
  return html`<h1>Sign in to ${session.info.name || 'Bodhi'}</h1>
    <div class="panel" data-testid="sign-in" data-mode=${mode}>
      ${mode === 'oidc' ? html`<${OidcSignIn} next=${next} />` : html`<${LocalSignIn} />`}
    </div>
    ${next && html`<p class="muted" data-testid="sign-in-next">
      After signing in you go back to <code>${next}</code>.</p>`}
    <p class="muted">Sign-in mode: <span data-testid="sign-in-mode">${mode}</span> ·
      companion ${session.info.version}</p>`;
}

const STATUS_TEXT = {
  pending: 'Your request is waiting for an admin or a manager.',
  approved: 'Your request was approved. Sign in again to use your new role.',
  rejected: 'Your request was declined. Ask an admin if you think this is a mistake.',
};

function useRequestStatus() {
  const [state, setState] = useState({ loading: true, request: null, error: null });
  const load = () => api('/bodhi/v1/user/request-status').then(
    (request) => setState({ loading: false, request, error: null }),
    (error) => setState({ loading: false, request: null,
      error: error.status === 404 ? null : error }));
  useEffect(() => { load(); }, []);
  return [state, setState, load];
}

export function RequestAccess({ session, onSignedOut }) {
  const [state, setState, load] = useRequestStatus();
  // An admin's decision arrives as an event for this user: the status updates without a click.
  useEvents(['user_access_request.updated'], load);
  const ask = async () => {
    try {
      await api('/bodhi/v1/user/request-access', { method: 'POST', body: {} });
      await load();
    } catch (error) {
      setState({ ...state, error });
    }
  };
  const leave = async () => {
    await signOut().catch(() => {});
    navigate('/ui/sign-in', { replace: true });     // first: signing out keeps no page to return to
    onSignedOut();
  };
  const { request } = state;
  return html`<h1>Ask for access</h1>
    <div class="panel" data-testid="request-access">
      <p>You are signed in as <strong>${session.user.username}</strong>, but you have no role on
        this companion yet. An admin or a manager gives you one.</p>
      ${state.loading ? html`<p class="muted">Checking your request…</p>` : request
        ? html`<p data-testid="request-status" data-status=${request.status}>
            ${STATUS_TEXT[request.status] ?? request.status}</p>`
        : html`<button type="button" class="primary" data-testid="request-access-submit"
            onClick=${ask}>Request access</button>`}
      ${state.error && html`<p class="error" role="alert">${state.error.message}</p>`}
    </div>
    <div class="buttons"><button type="button" onClick=${load}>Check again</button>
      <button type="button" onClick=${leave}>Sign out</button></div>`;
}
