import type { KeyCursor } from './key-cursor';
import { Injectable } from '@nestjs/common';
import {
  ACCESS_COLUMNS,
  ACCESS_FROM,
  ACCESS_WIDTH,
  epochMsOf,
  KeyAccess,
  toKeyAccess,
} from '../access/key-access.repository';
import type { NewAuditEntry } from '../audit/audit-entry';
import {
  keyLimits,
  LIMIT_SELECT,
  type LimitFieldValues,
  LimitRow,
  limitSetOf,
  limitSetOfRow,
} from '../limits/limits';
import { DatabaseDriver } from '../prisma/database-driver';
import { Dialect, PrismaService } from '../prisma/prisma.service';
import { keyEvent, mergedChanges } from '../webhooks/webhook-events';
import { WebhookOutbox } from '../webhooks/webhook-outbox';

/** What a key is, as the rest of keymeter sees it: never its hash. */
export interface StoredKey extends KeyAccess {
  createdAt: Date;
  updatedAt: Date;
  lastUsedAt: Date | null;
  usageCount: number;
  usageVolume: number;
  /** Bytes of the answers' bodies (gateway and API). */
  usageVolumeOut: number;
  prefix: string;
  ciphertext: string | null;
  /** The key this one was rolled into; '' when it was not. */
  supersededBy: string;
  /** The first key of its roll lineage; null when never rolled. */
  lineageId: string | null;
}

export interface NewKeyRecord extends LimitFieldValues {
  id: string;
  name: string;
  isMaster: boolean;
  hash: string;
  prefix: string;
  ciphertext: string | null;
  isActive?: boolean;
  expiresAt?: Date | null;
  lineageId?: string | null;
}

const SELECT = {
  id: true,
  accountId: true,
  name: true,
  isMaster: true,
  isActive: true,
  createdAt: true,
  updatedAt: true,
  lastUsedAt: true,
  usageCount: true,
  usageVolume: true,
  usageVolumeOut: true,
  prefix: true,
  ciphertext: true,
  expiresAt: true,
  supersededBy: true,
  lineageId: true,
  ...LIMIT_SELECT,
  account: { select: LIMIT_SELECT },
} as const;

type Row = Omit<
  StoredKey,
  'usageCount' | 'usageVolume' | 'usageVolumeOut' | 'expiresAtMs' | 'limits'
> &
  LimitRow & {
    usageCount: bigint;
    usageVolume: bigint;
    usageVolumeOut: bigint;
    expiresAt: Date | null;
    account: LimitRow;
  };

/**
 * A whole key, for the keys API's lookups of one key (every usage query starts with one): on the
 * driver too, where Prisma's query compiler took ~2 ms of a ~7 ms day query (docs/benchmarks.md,
 * item 2). Dates are read as epoch milliseconds, so that neither driver parses them:
 * Prisma writes `timestamp(3)` in UTC on PostgreSQL (which pg would read as local time) and
 * ISO-8601 text on SQLite (its column default, `CURRENT_TIMESTAMP`, writes
 * `YYYY-MM-DD HH:MM:SS`; both read right).
 */
const storedColumns = (dialect: Dialect): string =>
  `${ACCESS_COLUMNS(dialect)}, ${epochMsOf(dialect, 'k.created_at')},
   ${epochMsOf(dialect, 'k.updated_at')}, ${epochMsOf(dialect, 'k.last_used_at')},
   k.usage_count, k.usage_volume, k.usage_volume_out, k.prefix, k.ciphertext, k.superseded_by, k.lineage_id`;

function storedBy(dialect: Dialect): { id: string; hash: string } {
  const select = `SELECT ${storedColumns(dialect)} FROM ${ACCESS_FROM}`;
  return {
    id: `${select} WHERE k.id = ? AND k.account_id = ?`,
    hash: `${select} WHERE k.hash = ? AND k.account_id = ?`,
  };
}

const STORED_BY: Record<Dialect, { id: string; hash: string }> = {
  sqlite: storedBy('sqlite'),
  postgresql: storedBy('postgresql'),
};

/**
 * A row of storedColumns: the six columns of KeyAccess, then the rest. BIGINT and numeric come
 * back as strings on PostgreSQL.
 */
function fromStoredColumns(row: unknown[]): StoredKey {
  const [
    created,
    updated,
    lastUsed,
    usageCount,
    usageVolume,
    usageVolumeOut,
    prefix,
    ciphertext,
    superseded,
    lineage,
  ] = row.slice(ACCESS_WIDTH);
  // Both columns are NOT NULL: a NULL here is a date SQLite could not read, not a missing one.
  if (created === null || updated === null)
    throw new Error(`key ${String(row[0])}: unreadable date`);
  return {
    ...toKeyAccess(row),
    createdAt: new Date(Number(created)),
    updatedAt: new Date(Number(updated)),
    lastUsedAt: lastUsed === null ? null : new Date(Number(lastUsed)),
    usageCount: Number(usageCount),
    usageVolume: Number(usageVolume),
    usageVolumeOut: Number(usageVolumeOut),
    prefix: prefix as string,
    ciphertext: ciphertext as string | null,
    supersededBy: superseded as string,
    lineageId: lineage as string | null,
  };
}

export function toStoredKey(row: Row): StoredKey {
  const {
    expiresAt,
    account,
    rateLimit,
    rateWindowSeconds,
    quotaRequests,
    quotaVolume,
    quotaPeriod,
    ...rest
  } = row;
  const own = limitSetOf([rateLimit, rateWindowSeconds, quotaRequests, quotaVolume, quotaPeriod]);
  return {
    ...rest,
    limits: keyLimits(own, limitSetOfRow(account), row.isMaster),
    expiresAtMs: expiresAt === null ? null : expiresAt.getTime(),
    usageCount: Number(row.usageCount),
    usageVolume: Number(row.usageVolume),
    usageVolumeOut: Number(row.usageVolumeOut),
  };
}

@Injectable()
export class KeysRepository {
  constructor(
    private readonly prisma: PrismaService,
    private readonly driver: DatabaseDriver,
    private readonly outbox: WebhookOutbox,
  ) {}

  /** The whole key with this hash, when it belongs to the account: see storedColumns. */
  findInAccountByHash(accountId: string, hash: string): Promise<StoredKey | null> {
    return this.findStored('hash', hash, accountId);
  }

  /** The whole key with this id, when it belongs to the account: see storedColumns. */
  findInAccount(accountId: string, id: string): Promise<StoredKey | null> {
    return this.findStored('id', id, accountId);
  }

  countInAccount(accountId: string): Promise<number> {
    return this.prisma.db.apiKey.count({ where: { accountId } });
  }

  async listByAccount(accountId: string): Promise<StoredKey[]> {
    const rows = await this.prisma.db.apiKey.findMany({
      where: { accountId },
      select: SELECT,
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    });
    return rows.map(toStoredKey);
  }

  /** Up to `take` of the account's keys after `after`, in listing order (createdAt, id). */
  async listPage(accountId: string, after: KeyCursor | null, take: number): Promise<StoredKey[]> {
    const rows = await this.prisma.db.apiKey.findMany({
      where: after
        ? {
            accountId,
            OR: [
              { createdAt: { gt: after.createdAt } },
              { createdAt: after.createdAt, id: { gt: after.id } },
            ],
          }
        : { accountId },
      select: SELECT,
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      take,
    });
    return rows.map(toStoredKey);
  }

  /** Whether a live key (not rolled) of the account has this name. */
  async nameTaken(accountId: string, name: string, exceptId?: string): Promise<boolean> {
    const row = await this.prisma.db.apiKey.findUnique({
      where: { accountId_name_supersededBy: { accountId, name, supersededBy: '' } },
      select: { id: true },
    });
    return row !== null && row.id !== exceptId;
  }

  /**
   * Changes a key and writes the audit entries saying so (and its key.updated event when
   * something changed), in one transaction. With
   * `live: true` the change applies only if the key has not been rolled meanwhile (an expiry or
   * activation set on a key being rolled would undo its grace): null when it has.
   */
  async update(
    id: string,
    data: { name?: string; isActive?: boolean; expiresAt?: Date | null } & LimitFieldValues,
    audit: readonly NewAuditEntry[],
    { live = false } = {},
  ): Promise<StoredKey | null> {
    let enqueued = 0;
    const updated = await this.prisma.db.$transaction(async (tx) => {
      const where = live ? { id, supersededBy: '' } : { id };
      const changed = await tx.apiKey.updateMany({ where, data });
      if (changed.count !== 1) return null;
      const stored = toStoredKey(
        await tx.apiKey.findUniqueOrThrow({ where: { id }, select: SELECT }),
      );
      if (audit.length > 0) {
        await tx.auditEntry.createMany({ data: [...audit] });
        const changes = mergedChanges(audit.map((entry) => entry.changes));
        enqueued = await this.outbox.enqueue(tx, [keyEvent('key.updated', stored, { changes })]);
      }
      return stored;
    });
    if (enqueued > 0) this.outbox.committed();
    return updated;
  }

  /**
   * Rolls `old` into the new key `record`, in one transaction: the old key is marked superseded
   * (which frees its name) and given its last instant; the new one joins the lineage. The
   * update is conditional on the key being as it was read (not rolled, same name, state and
   * expiry), so that of two rolls of one key at once, or a roll and a PATCH, only the first
   * wins: the other finds no row to supersede and creates nothing (null).
   */
  async roll(
    old: StoredKey,
    oldExpiresAt: Date,
    record: NewKeyRecord,
    audit: NewAuditEntry,
  ): Promise<{ previous: StoredKey; next: StoredKey } | null> {
    const lineageId = old.lineageId ?? old.id;
    let enqueued = 0;
    const rolled = await this.prisma.db.$transaction(async (tx) => {
      const superseded = await tx.apiKey.updateMany({
        where: {
          id: old.id,
          supersededBy: '',
          name: old.name,
          isActive: old.isActive,
          expiresAt: old.expiresAtMs === null ? null : new Date(old.expiresAtMs),
        },
        data: { supersededBy: record.id, lineageId, expiresAt: oldExpiresAt },
      });
      if (superseded.count !== 1) return null;
      const next = await tx.apiKey.create({
        data: { ...record, accountId: old.accountId, lineageId },
        select: SELECT,
      });
      await tx.auditEntry.create({ data: audit });
      const previous = toStoredKey(
        await tx.apiKey.findUniqueOrThrow({ where: { id: old.id }, select: SELECT }),
      );
      const successor = toStoredKey(next);
      enqueued = await this.outbox.enqueue(tx, [
        keyEvent('key.rolled', successor, {
          previous: { id: previous.id, expiresAt: oldExpiresAt.toISOString() },
        }),
      ]);
      return { previous, next: successor };
    });
    if (enqueued > 0) this.outbox.committed();
    return rolled;
  }

  /** The ids of every key still in this lineage (rolled ones and the live one). */
  async lineageIds(accountId: string, lineageId: string): Promise<string[]> {
    const rows = await this.prisma.db.apiKey.findMany({
      where: { accountId, OR: [{ lineageId }, { id: lineageId }] },
      select: { id: true },
    });
    return rows.map((r) => r.id);
  }

  /**
   * Deletes a key (its usage goes with it) and writes its audit entry and key.deleted event, in
   * one transaction.
   */
  async delete(key: StoredKey, audit: NewAuditEntry): Promise<void> {
    const enqueued = await this.prisma.db.$transaction(async (tx) => {
      await tx.apiKey.delete({ where: { id: key.id } });
      await tx.auditEntry.create({ data: audit });
      return this.outbox.enqueue(tx, [keyEvent('key.deleted', key)]);
    });
    if (enqueued > 0) this.outbox.committed();
  }

  private async findStored(
    by: 'id' | 'hash',
    value: string,
    accountId: string,
  ): Promise<StoredKey | null> {
    const sql = STORED_BY[this.prisma.dialect][by];
    const [row] = await this.driver.rows(sql, [value, accountId]);
    return row ? fromStoredColumns(row) : null;
  }

  /** Adds a key and writes its audit entry and key.created event, in one transaction. */
  async create(accountId: string, record: NewKeyRecord, audit: NewAuditEntry): Promise<StoredKey> {
    let enqueued = 0;
    const stored = await this.prisma.db.$transaction(async (tx) => {
      const created = toStoredKey(
        await tx.apiKey.create({ data: { ...record, accountId }, select: SELECT }),
      );
      await tx.auditEntry.create({ data: audit });
      enqueued = await this.outbox.enqueue(tx, [keyEvent('key.created', created)]);
      return created;
    });
    if (enqueued > 0) this.outbox.committed();
    return stored;
  }
}
