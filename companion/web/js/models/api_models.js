// Placeholder until this page is built (issue 14).
import { html } from '../lib.js';

export default function Placeholder() {
  return html`<p class="muted">Not built yet.</p>`;
}
