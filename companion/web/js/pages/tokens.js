// The Tokens page: the signed-in user's API tokens (bodhiapp_…) for programs and other apps,
// made with a name, a scope no higher than the user's role and a choice of models; the value
// is shown once (tokens/create.js). The list and its edits are in tokens/list.js.
import { html } from '../lib.js';
import { allPages } from '../api.js';
import { LoadState, PageHead, useLoad, useNotice } from '../widgets.js';
import { CreateToken } from '../tokens/create.js';
import { TokenTable } from '../tokens/list.js';

async function modelNames() {
  try {
    return (await allPages('/bodhi/v1/models')).map((m) => m.alias);
  } catch {
    return [];   // the form still offers "all models"
  }
}

export default function Tokens({ session }) {
  const tokens = useLoad(() => allPages('/bodhi/v1/tokens'));
  const models = useLoad(modelNames);
  const notice = useNotice();
  const changed = (message) => {
    notice.show(message);
    tokens.reload();
  };
  const failed = (error) => notice.show(`Not done: ${error.message}`);
  return html`<div class="page" data-testid="tokens-page">
    <${PageHead} title="API tokens"><${notice.Notice} /></${PageHead}>
    <p class="muted token-intro">A token lets a program or another app use the companion's API as you:
      send it as <code>Authorization: Bearer bodhiapp_…</code> (the OpenAI SDKs do this with
      their API key). It never does more than your role allows.</p>
    <${CreateToken} role=${session.user.role} models=${models.data ?? []}
      onMade=${(made) => changed(`Token ${made.name} made.`)} />
    <section class="card" aria-labelledby="tokens-title">
      <h2 id="tokens-title">Your tokens</h2>
      <${LoadState} state=${tokens} what="your tokens" />
      ${tokens.data ? html`<${TokenTable} tokens=${tokens.data} onChanged=${changed}
        onFailed=${failed} />` : null}
    </section>
  </div>`;
}
