// Small DOM helpers shared by the extension's pages.

/** Sets `element`'s text; parts in backticks show as code (commands such as `bodhi pair`). */
export function setText(element, text) {
  element.replaceChildren(...String(text).split('`').map((part, index) => (index % 2
    ? Object.assign(document.createElement('code'), { textContent: part })
    : document.createTextNode(part))));
}
