// Model replies as HTML: marked renders the markdown, DOMPurify removes anything active
// (scripts, event handlers, javascript: and data: links, forms, frames, styles), and only then
// does the page see it. The CSP (script-src 'self') is the second wall. Code blocks are
// highlighted with highlight.js and get a copy button.
import { marked } from '../../vendor/marked.esm.js';
import DOMPurify from '../../vendor/purify.es.mjs';
import hljs from '../../vendor/highlight.min.js';

const FORBID_TAGS = ['style', 'form', 'input', 'button', 'textarea', 'select', 'iframe',
  'object', 'embed', 'svg', 'math'];

DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A') {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer nofollow');
  }
});

/** Sanitised HTML for a reply's markdown. */
export function renderMarkdown(text) {
  const raw = marked.parse(text ?? '', { async: false, gfm: true });
  return DOMPurify.sanitize(raw, { FORBID_TAGS, FORBID_ATTR: ['style'],
    ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|#|\/(?!\/))/i });
}

/** Highlights the code blocks under `root` and adds their copy buttons (once each). */
export function enhanceCode(root) {
  for (const code of root.querySelectorAll('pre > code')) {
    const pre = code.parentElement;
    if (pre.dataset.enhanced) continue;
    pre.dataset.enhanced = 'true';
    hljs.highlightElement(code);
    const copy = document.createElement('button');
    copy.type = 'button';
    copy.className = 'copy';
    copy.dataset.testid = 'copy-code';
    copy.textContent = 'Copy';
    copy.setAttribute('aria-label', 'Copy this code');
    pre.prepend(copy);
  }
}

/** The click handler for copy buttons under a container (one listener for all). */
export async function copyCode(event) {
  const button = event.target.closest?.('button.copy');
  if (!button) return;
  const text = button.parentElement.querySelector('code')?.textContent ?? '';
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = 'Copied';
  } catch {
    button.textContent = 'Copy failed';
  }
  setTimeout(() => { button.textContent = 'Copy'; }, 1500);
}

hljs.configure({ ignoreUnescapedHTML: true });
