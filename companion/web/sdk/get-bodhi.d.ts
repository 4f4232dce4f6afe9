// Types for get-bodhi.js.
import type { Bodhi } from './bodhi.js';

export interface GetBodhiOptions {
  /** Milliseconds to wait for window.bodhi (default 1000). */
  timeout?: number;
}

/**
 * window.bodhi once the extension's bridge is there. Rejects with an Error whose `name` is
 * 'BodhiError' and `code` is 'not_installed' when it does not appear within the timeout.
 * Resolves whatever the companion's state: ask `bodhi.serverState()`.
 */
export function getBodhi(options?: GetBodhiOptions): Promise<Bodhi>;
