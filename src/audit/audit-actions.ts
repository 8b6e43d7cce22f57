/** Every action the audit log records; `action=` filters by one of them. */
export const AUDIT_ACTIONS = [
  'key.created',
  'key.renamed',
  'key.deactivated',
  'key.activated',
  'key.expiry_changed',
  'key.limits_changed',
  'key.rolled',
  'key.deleted',
  'keys.revealed',
  'account.registered',
  'account.limits_changed',
  'session.signed_in',
  'session.signed_out',
  'sign_in.failed',
  'sign_in.throttled',
  'webhook.created',
  'webhook.updated',
  'webhook.deleted',
  'webhook.secret_rotated',
  'webhook.disabled',
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** A field an action changed: what it was and what it became (never a secret). */
export type AuditChanges = Record<string, { before: unknown; after: unknown }>;

/** The key an action was about: its id and name, never the key itself. */
export interface AuditTarget {
  keyId: string;
  keyName: string;
}
