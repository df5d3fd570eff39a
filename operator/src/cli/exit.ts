/**
 * Exit codes of `warren` (documented in the README):
 * 0 success (plan: no changes); 1 an error: invalid input, a usage error, an unreachable or
 * refusing broker or API server, changes not possible in place on apply;
 * 2 `plan --detailed-exitcode` found changes.
 */
export const EXIT = { ok: 0, error: 1, changes: 2 } as const;
