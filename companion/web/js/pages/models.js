// The Models page: one tab per kind of thing a model can be. Each tab is its own module under
// models/ (default export: a component taking {session}), loaded when first opened; the tab in
// the address (/ui/models/<tab>) survives a reload and can be linked to.
import { html, useEffect, useState } from '../lib.js';
import { navigate } from '../router.js';
import { allows } from '../session.js';
import { PageHead } from '../widgets.js';

const TABS = [
  { name: 'aliases', title: 'Aliases', load: () => import('../models/aliases.js') },
  { name: 'files', title: 'Files', load: () => import('../models/files.js') },
  { name: 'loaded', title: 'Loaded', load: () => import('../models/loaded.js') },
  { name: 'downloads', title: 'Downloads', load: () => import('../models/downloads.js') },
  { name: 'api', title: 'API models', load: () => import('../models/api_models.js') },
  { name: 'routers', title: 'Routers', load: () => import('../models/routers.js') },
];

function Tab({ tab, session }) {
  const [loaded, setLoaded] = useState({ tab: null, Component: null, error: null });
  useEffect(() => {
    tab.load().then((module) => setLoaded({ tab, Component: module.default, error: null }),
      (error) => setLoaded({ tab, Component: null, error }));
  }, [tab]);
  if (loaded.error) {
    return html`<p class="error" role="alert">This tab failed to load: ${loaded.error.message}</p>`;
  }
  if (loaded.tab !== tab) return html`<p class="loading">Loading…</p>`;
  return html`<${loaded.Component} session=${session} />`;
}

export default function Models({ session, segments }) {
  const current = TABS.find((tab) => tab.name === segments[1]) ?? TABS[0];
  const keys = (event) => {
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (!step) return;
    const next = TABS[(TABS.indexOf(current) + step + TABS.length) % TABS.length];
    navigate(`/ui/models/${next.name}`);
    requestAnimationFrame(() => document.getElementById(`tab-${next.name}`)?.focus());
  };
  return html`<div class="page" data-testid="models-page">
    <${PageHead} title="Models" />
    ${allows(session.user.role, 'resource_power_user') ? null : html`<p class="muted">
      Your role can see the models; a power user or above can change them.</p>`}
    <div class="tabs" role="tablist" aria-label="Kinds of models" onKeyDown=${keys}>
      ${TABS.map((tab) => html`<button type="button" role="tab" id=${`tab-${tab.name}`}
        aria-selected=${tab === current ? 'true' : 'false'} tabindex=${tab === current ? 0 : -1}
        aria-controls="tab-panel" data-testid=${`tab-${tab.name}`}
        onClick=${() => navigate(`/ui/models/${tab.name}`)}>${tab.title}</button>`)}
    </div>
    <div role="tabpanel" id="tab-panel" aria-labelledby=${`tab-${current.name}`}>
      <${Tab} key=${current.name} tab=${current} session=${session} /></div>
  </div>`;
}
