import { BadRequestException, Injectable, Logger } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { parseIsoInstant, UsageRangeError } from '../usage/usage-range';
import type { Actor } from './actor';
import type { AuditAction, AuditChanges, AuditTarget } from './audit-actions';
import { auditEntry } from './audit-entry';
import { AuditRepository, StoredAuditEntry } from './audit.repository';
import { AuditEntryView, AuditQueryDto, DEFAULT_AUDIT_PAGE } from './dto/audit.dto';

/** How long a summarised action (see firstInWindow) is recorded once. */
export const AUDIT_SUMMARY_WINDOW_MS = 15 * 60_000;

/** The largest cursor: entries are numbered by a 32-bit sequence. */
const MAX_SEQ = 2 ** 31 - 1;

/**
 * The audit log: who changed what, when and from where. Key and account changes write their
 * entry in their own transaction (auditEntry, through their repository); the entries of events
 * that change nothing stored (a sign-in, a listing that revealed keys) are written here. They
 * name keys by id and name, never by the key.
 */
@Injectable()
export class AuditService {
  private readonly logger = new Logger(AuditService.name);
  private readonly summarised = new LRUCache<string, true>({
    max: 10_000,
    ttl: AUDIT_SUMMARY_WINDOW_MS,
  });

  constructor(private readonly entries: AuditRepository) {}

  async record(
    actor: Actor,
    action: AuditAction,
    target: AuditTarget | null = null,
    changes: AuditChanges | null = null,
  ): Promise<void> {
    await this.entries.insert(auditEntry(actor, action, target, changes));
  }

  /**
   * For entries that must not fail what they describe (a sign-in already refused, a sign-out
   * already done): a database fault is logged, not answered.
   */
  recordQuietly(...args: Parameters<AuditService['record']>): Promise<void> {
    return this.record(...args).catch((error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      this.logger.error(`could not write the audit entry ${args[1]}: ${message}`);
    });
  }

  /**
   * Whether `subject` (an action and who or what it is about) is seen for the first time in
   * AUDIT_SUMMARY_WINDOW_MS on this instance. Actions that come in floods (refused sign-ins,
   * every reload of a key listing) are recorded once per window, not once per request.
   */
  firstInWindow(subject: string): boolean {
    if (this.summarised.has(subject)) return false;
    this.summarised.set(subject, true);
    return true;
  }

  /** One page of the account's log, newest first, and the cursor of the next. */
  async page(
    accountId: string,
    query: AuditQueryDto,
  ): Promise<{ entries: AuditEntryView[]; nextCursor: string | null }> {
    const limit = query.limit === undefined ? DEFAULT_AUDIT_PAGE : Number(query.limit);
    const cursor = query.cursor === undefined ? undefined : Number(query.cursor);
    if (cursor !== undefined && cursor > MAX_SEQ) {
      throw new BadRequestException('cursor must be the nextCursor of an earlier page');
    }
    const from = instant(query.from, 'from');
    const to = instant(query.to, 'to');
    if (from && to && from >= to) throw new BadRequestException('from must be before to');
    const rows = await this.entries.page(
      {
        accountId,
        beforeSeq: cursor,
        from,
        to,
        action: query.action,
        keyId: query.keyId?.toLowerCase(),
      },
      limit + 1,
    );
    const page = rows.slice(0, limit);
    return {
      entries: page.map(toView),
      nextCursor: rows.length > limit ? String(page[page.length - 1].seq) : null,
    };
  }
}

function instant(value: string | undefined, field: string): Date | undefined {
  if (value === undefined) return undefined;
  try {
    return parseIsoInstant(value, field);
  } catch (error) {
    if (error instanceof UsageRangeError) throw new BadRequestException(error.message);
    throw error;
  }
}

function toView(row: StoredAuditEntry): AuditEntryView {
  return {
    id: row.seq,
    at: row.at,
    action: row.action,
    actor: { type: row.actorType, id: row.actorId },
    target: row.keyId === null ? null : { keyId: row.keyId, keyName: row.keyName ?? '' },
    changes: row.changes === null ? null : (JSON.parse(row.changes) as AuditEntryView['changes']),
    ip: row.ip,
    userAgent: row.userAgent,
    requestId: row.requestId,
  };
}
