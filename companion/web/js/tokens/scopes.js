// Token scopes in words (TokenScope in companion/auth/tokens.py), each with the lowest role
// that may give it to a token.
export const SCOPES = [
  { value: 'scope_token_user', label: 'User', role: 'resource_user' },
  { value: 'scope_token_power_user', label: 'Power user', role: 'resource_power_user' },
];

// The longest name the companion takes (MAX_NAME in companion/auth/tokens.py). The form says
// so but leaves the check to the companion, whose answer appears under the field.
export const MAX_NAME = 100;

export function scopeLabel(scopes) {
  return String(scopes ?? '').split(' ').filter(Boolean)
    .map((value) => SCOPES.find((s) => s.value === value)?.label ?? value).join(', ');
}
