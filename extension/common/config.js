// Constants shared by the background and the extension pages.
export const api = globalThis.browser ?? globalThis.chrome;

export const DEFAULT_SERVER_URL = 'http://127.0.0.1:1135';
export const NATIVE_HOST_NAME = 'app.bodhi.companion';
export const SCOPES = Object.freeze(['chat', 'embeddings', 'models', 'mcp']);
export const ALLOW_ONCE_SECS = 3600;

export const PORT_PAGE = 'bodhi-page';   // content script -> background, one per page request
export const PORT_EVENTS = 'bodhi-events'; // content script -> background, one per listening frame
export const PORT_UI = 'bodhi-ui';       // popup / consent window -> background, live events
