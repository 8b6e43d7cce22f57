import { Injectable } from '@nestjs/common';
import { DatabaseDriver } from '../prisma/database-driver';
import { Dialect, PrismaService } from '../prisma/prisma.service';

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
}

/** Epoch ms of a nullable DateTime column, read the same way on both databases. */
export function epochMsOf(dialect: Dialect, column: string): string {
  // SQLite: ISO-8601 text (Prisma's default) or integer ms; PostgreSQL: timestamp(3) in UTC.
  return dialect === 'sqlite'
    ? `CASE typeof(${column}) WHEN 'integer' THEN ${column}
         ELSE CAST(round((julianday(${column}) - 2440587.5) * 86400000) AS INTEGER) END`
    : `round(extract(epoch FROM ${column}) * 1000)`;
}

/** The columns of KeyAccess, in its order: the first six of every key row read on the driver. */
export const ACCESS_COLUMNS = (dialect: Dialect): string =>
  `id, account_id, name, is_master, is_active, ${epochMsOf(dialect, 'expires_at')}`;

/**
 * The lookup of every key-cache miss, on the driver with a statement prepared once: through
 * Prisma's query compiler it costs ~100 times the CPU (docs/benchmarks.md, "Where the time goes").
 */
const ACCESS_BY_HASH: Record<Dialect, string> = {
  sqlite: `SELECT ${ACCESS_COLUMNS('sqlite')} FROM api_keys WHERE hash = ?`,
  postgresql: `SELECT ${ACCESS_COLUMNS('postgresql')} FROM api_keys WHERE hash = ?`,
};

/** Booleans are 0/1 on SQLite, true/false on PostgreSQL. */
const isTrue = (value: unknown): boolean => value === true || value === 1;

/** The first six columns of a key row (ACCESS_COLUMNS), in KeyAccess's order. */
export function toKeyAccess([
  id,
  accountId,
  name,
  isMaster,
  isActive,
  expires,
]: unknown[]): KeyAccess {
  return {
    id: id as string,
    accountId: accountId as string,
    name: name as string,
    isMaster: isTrue(isMaster),
    isActive: isTrue(isActive),
    expiresAtMs: expires === null || expires === undefined ? null : Number(expires),
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
