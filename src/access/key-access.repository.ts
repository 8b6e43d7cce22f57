import { Injectable } from '@nestjs/common';
import { DatabaseDriver } from '../prisma/database-driver';

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
}

/**
 * The lookup of every key-cache miss, on the driver with a statement prepared once: through
 * Prisma's query compiler it costs ~100 times the CPU (docs/benchmarks.md, "Where the time goes").
 */
const ACCESS_BY_HASH =
  'SELECT id, account_id, name, is_master, is_active FROM api_keys WHERE hash = ?';

/** Booleans are 0/1 on SQLite, true/false on PostgreSQL. */
const isTrue = (value: unknown): boolean => value === true || value === 1;

/** The first five columns of a key row, in KeyAccess's order. */
export function toKeyAccess([id, accountId, name, isMaster, isActive]: unknown[]): KeyAccess {
  return {
    id: id as string,
    accountId: accountId as string,
    name: name as string,
    isMaster: isTrue(isMaster),
    isActive: isTrue(isActive),
  };
}

/** The request gate's one query: a key by its lookup hash. */
@Injectable()
export class KeyAccessRepository {
  constructor(private readonly driver: DatabaseDriver) {}

  /** The hot path's lookup (every key-cache miss): see ACCESS_BY_HASH. */
  async findByHash(hash: string): Promise<KeyAccess | null> {
    const [row] = await this.driver.rows(ACCESS_BY_HASH, [hash]);
    return row ? toKeyAccess(row) : null;
  }
}
