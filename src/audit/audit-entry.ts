import type { Actor } from './actor';
import type { AuditAction, AuditChanges, AuditTarget } from './audit-actions';

/** A row of audit_entries to insert; `seq` and `at` are the database's. */
export interface NewAuditEntry {
  accountId: string;
  actorType: string;
  actorId: string | null;
  action: string;
  keyId: string | null;
  keyName: string | null;
  changes: string | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
}

/**
 * The entry for an action, to be written in the same transaction as the change it describes
 * (by the repository making the change), so that neither is ever stored without the other.
 */
export function auditEntry(
  actor: Actor,
  action: AuditAction,
  target: AuditTarget | null = null,
  changes: AuditChanges | null = null,
): NewAuditEntry {
  return {
    accountId: actor.accountId,
    actorType: actor.type,
    actorId: actor.id,
    action,
    keyId: target?.keyId ?? null,
    keyName: target?.keyName ?? null,
    changes: changes === null ? null : JSON.stringify(changes),
    ip: actor.ip,
    userAgent: actor.userAgent,
    requestId: actor.requestId,
  };
}
