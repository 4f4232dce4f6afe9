// What a failed pairing by code tells the user. The companion's refusal of a wrong code says
// how many tries are left before it cancels every open code (`tries_left`), and at the last
// try that it did (`codes_cancelled`).
export function pairingFailure(err) {
  const refusal = err?.body?.error;
  if (refusal?.code !== 'pairing_code_invalid' || typeof refusal.tries_left !== 'number') {
    return `${err?.message ?? err} (${err?.code ?? 'error'})`;
  }
  if (refusal.codes_cancelled) {
    return 'Too many wrong codes: every open pairing code was cancelled. Run `bodhi pair` ' +
      'again and type the new code.';
  }
  const tries = refusal.tries_left === 1 ? '1 try' : `${refusal.tries_left} tries`;
  return `That code is wrong, expired or already used. ${tries} left before the open ` +
    'codes are cancelled.';
}

/** The tries left after a failed pairing by code, or null when the refusal does not say. */
export function triesLeft(err) {
  const left = err?.body?.error?.tries_left;
  return typeof left === 'number' ? left : null;
}
