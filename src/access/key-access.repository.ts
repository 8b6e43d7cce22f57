import { Injectable } from '@nestjs/common';
import { DatabaseDriver } from '../prisma/database-driver';
import { Dialect, PrismaService } from '../prisma/prisma.service';
import { keyLimits, KeyLimits, LIMIT_COLUMNS, limitSetOf } from '../limits/limits';

/**
 * What a request with the key needs to know to be let in: all that the key cache holds, so that
 * a cached key costs little memory and carries no totals or dates that would go stale.
 */
export interface KeyAccess {
  id: string;
  accountId: string;
  name: string;
  isMaster: boolean;
  isActive: boolean;
  /** Epoch ms from which the key is refused (EXPIRED); null: never. */
  expiresAtMs: number | null;
  /** The rate limit and quota in effect (the key's own, else its account's); null: none. */
  limits: KeyLimits | null;
}

/** Epoch ms of a nullable DateTime column, read the same way on both databases. */
export function epochMsOf(dialect: Dialect, column: string): string {
  // SQLite: ISO-8601 text (Prisma's default) or integer ms; PostgreSQL: timestamp(3) in UTC.
  return dialect === 'sqlite'
    ? `CASE typeof(${column}) WHEN 'integer' THEN ${column}
         ELSE CAST(round((julianday(${column}) - 2440587.5) * 86400000) AS INTEGER) END`
    : `round(extract(epoch FROM ${column}) * 1000)`;
}

/**
 * The columns of KeyAccess, in its order: the first ACCESS_WIDTH of every key row read on the
 * driver, from ACCESS_FROM (the key `k` with its account `a`, whose limits are the defaults).
 */
export const ACCESS_COLUMNS = (dialect: Dialect): string =>
  `k.id, k.account_id, k.name, k.is_master, k.is_active, ${epochMsOf(dialect, 'k.expires_at')},
   ${LIMIT_COLUMNS.map((c) => `k.${c}`).join(', ')}, ${LIMIT_COLUMNS.map((c) => `a.${c}`).join(', ')}`;

export const ACCESS_FROM = 'api_keys k JOIN accounts a ON a.id = k.account_id';

export const ACCESS_WIDTH = 6 + 2 * LIMIT_COLUMNS.length;

/**
 * The lookup of every key-cache miss, on the driver with a statement prepared once: through
 * Prisma's query compiler it costs ~100 times the CPU (docs/benchmarks.md, "Where the time goes").
 */
const ACCESS_BY_HASH: Record<Dialect, string> = {
  sqlite: `SELECT ${ACCESS_COLUMNS('sqlite')} FROM ${ACCESS_FROM} WHERE k.hash = ?`,
  postgresql: `SELECT ${ACCESS_COLUMNS('postgresql')} FROM ${ACCESS_FROM} WHERE k.hash = ?`,
};

/** Booleans are 0/1 on SQLite, true/false on PostgreSQL. */
const isTrue = (value: unknown): boolean => value === true || value === 1;

/** The first ACCESS_WIDTH columns of a key row (ACCESS_COLUMNS), in KeyAccess's order. */
export function toKeyAccess(row: unknown[]): KeyAccess {
  const [id, accountId, name, isMaster, isActive, expires] = row;
  const width = LIMIT_COLUMNS.length;
  return {
    id: id as string,
    accountId: accountId as string,
    name: name as string,
    isMaster: isTrue(isMaster),
    isActive: isTrue(isActive),
    expiresAtMs: expires === null || expires === undefined ? null : Number(expires),
    limits: keyLimits(
      limitSetOf(row.slice(6, 6 + width)),
      limitSetOf(row.slice(6 + width, 6 + 2 * width)),
      isTrue(isMaster),
    ),
  };
}

/** The request gate's one query: a key by its lookup hash. */
@Injectable()
export class KeyAccessRepository {
  private readonly byHash: string;

  constructor(
    private readonly driver: DatabaseDriver,
    prisma: PrismaService,
  ) {
    this.byHash = ACCESS_BY_HASH[prisma.dialect];
  }

  /** The hot path's lookup (every key-cache miss): see ACCESS_BY_HASH. */
  async findByHash(hash: string): Promise<KeyAccess | null> {
    const [row] = await this.driver.rows(this.byHash, [hash]);
    return row ? toKeyAccess(row) : null;
  }
}
