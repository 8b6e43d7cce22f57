import { randomUUID } from 'node:crypto';
import {
  BadRequestException,
  ConflictException,
  Inject,
  Injectable,
  NotFoundException,
} from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/config';
import { KeyVault } from '../common/crypto/key-vault.service';
import { UsageMeter } from '../usage/usage-meter.service';
import { UsageService } from '../usage/usage.service';
import { KeyCache } from '../access/key-cache.service';
import type { Actor } from '../audit/actor';
import type { AuditAction, AuditChanges } from '../audit/audit-actions';
import { auditEntry, type NewAuditEntry } from '../audit/audit-entry';
import { AuditService } from '../audit/audit.service';
import { LimitsEnforcer } from '../limits/limits-enforcer';
import { requestedLimits } from '../limits/dto/limits.dto';
import { changedLimits, type LimitInput, limitFields, type LimitSet } from '../limits/limits';
import { LimitsReader, type LimitsView } from '../limits/limits-reader';
import { AccountTurns } from './account-turns';
import { ExpiryError, parseExpiry, rollExpiries } from './expiry';
import { encodeKeyCursor, KeyPagingError, parseKeyPaging } from './key-cursor';
import { KeysRepository, NewKeyRecord, StoredKey } from './keys.repository';

export const MASTER_KEY_NAME = 'master';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The key as listed to its account: the key itself when recoverable, else masked. `expiresAt`
 * is there only on a key that has one, so that keys without keep the published shape.
 */
export type KeyView = Pick<
  StoredKey,
  'id' | 'name' | 'isMaster' | 'isActive' | 'createdAt' | 'updatedAt' | 'lastUsedAt' | 'usageCount'
> & {
  key: string;
  volume: number;
  volumeOut: number;
  expiresAt?: Date;
  successorId?: string;
} & LimitsView;

/** The longest grace a roll may give the old key: 30 days. */
export const MAX_ROLL_GRACE_SECONDS = 30 * 86_400;

export interface RolledKey {
  key: string;
  stored: StoredKey;
  previous: StoredKey;
  /** When the old key stops working. */
  previousExpiresAt: Date;
}

/** What a PATCH may change. `expiresAt` is as sent: an ISO-8601 text or null. */
export interface KeyChanges extends LimitInput {
  name?: string;
  isActive?: boolean;
  expiresAt?: string | null;
}

/** The key lifecycle, for every API surface. Usage totals include what is not yet written. */
@Injectable()
export class KeysService {
  /** Creations and rolls in one account take turns (MAX_KEYS_PER_ACCOUNT). */
  private readonly turns = new AccountTurns();

  constructor(
    private readonly keys: KeysRepository,
    private readonly vault: KeyVault,
    private readonly cache: KeyCache,
    private readonly usage: UsageService,
    private readonly meter: UsageMeter,
    private readonly audit: AuditService,
    private readonly limits: LimitsReader,
    private readonly enforcer: LimitsEnforcer,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** A new key's plaintext (returned once) and the record to store for it. */
  newKey(name: string, isMaster = false): { key: string; record: NewKeyRecord } {
    const id = randomUUID();
    const { key, hash, prefix } = this.vault.create();
    return {
      key,
      record: { id, name, isMaster, hash, prefix, ciphertext: this.vault.seal(key, id) },
    };
  }

  /**
   * Adds a key, within MAX_KEYS_PER_ACCOUNT (409 beyond it; rolled keys count until deleted).
   * Creations in one account take turns on this instance, so parallel requests cannot all pass
   * the count.
   */
  create(
    actor: Actor,
    name: string,
    expiresAt?: string | null,
    limits: LimitInput = {},
  ): Promise<{ key: string; stored: StoredKey }> {
    // Read before waiting for a turn: "in the future" means when the request came.
    const expiry = expiresAt === undefined ? null : expiryOf(expiresAt);
    const set = requestedLimits(limits);
    return this.turns.run(actor.accountId, async () => {
      await this.ensureRoom(actor.accountId);
      await this.ensureNameFree(actor.accountId, name);
      const { key, record } = this.newKey(name);
      const changes: AuditChanges = {
        ...(expiry && { expiresAt: { before: null, after: expiry.toISOString() } }),
        ...(set.rateLimit && { rateLimit: { before: null, after: set.rateLimit } }),
        ...(set.quota && { quota: { before: null, after: set.quota } }),
      };
      const audit = auditEntry(
        actor,
        'key.created',
        { keyId: record.id, keyName: name },
        Object.keys(changes).length > 0 ? changes : null,
      );
      const stored = await this.keys.create(
        actor.accountId,
        { ...record, expiresAt: expiry, ...limitFields(set) },
        audit,
      );
      this.cache.forgetUnknown(record.hash);
      return { key, stored };
    });
  }

  /**
   * The key named by `ref` (its plaintext or its id) in this account. Anything else, including
   * another account's key, is the same 404.
   */
  async resolve(accountId: string, ref: string): Promise<StoredKey> {
    let key: StoredKey | null = null;
    if (UUID.test(ref)) key = await this.keys.findInAccount(accountId, ref.toLowerCase());
    else if (this.vault.isWellFormed(ref)) {
      key = await this.keys.findInAccountByHash(accountId, this.vault.hash(ref));
    }
    if (!key) throw new NotFoundException('no such API key');
    return key;
  }

  /**
   * Renames, (de)activates or sets the expiry of a key; each change that takes effect is an
   * audit entry of its own (key.renamed, key.deactivated, ...), with the value before and after,
   * written with the change. A rolled key may still be renamed or deactivated (to end its grace
   * early), but not activated or given another expiry: that would undo the roll.
   */
  async update(actor: Actor, ref: string, changes: KeyChanges): Promise<StoredKey> {
    const expiresAt = changes.expiresAt === undefined ? undefined : expiryOf(changes.expiresAt);
    const limits = requestedLimits(changes);
    const key = await this.resolve(actor.accountId, ref);
    if (key.isMaster && changes.isActive === false) {
      throw new BadRequestException('the master key cannot be deactivated');
    }
    const undoesRoll = changes.isActive === true || expiresAt !== undefined;
    if (key.supersededBy !== '' && undoesRoll) {
      throw new ConflictException(
        `this key was rolled into ${key.supersededBy}: it can be renamed or deactivated, ` +
          'but not activated or given another expiry',
      );
    }
    if (changes.name !== undefined && changes.name !== key.name && key.supersededBy === '') {
      await this.ensureNameFree(actor.accountId, changes.name, key.id);
    }
    const after = {
      name: changes.name ?? key.name,
      isActive: changes.isActive ?? key.isActive,
      expiresAtMs: expiresAt === undefined ? key.expiresAtMs : (expiresAt?.getTime() ?? null),
    };
    const updated = await this.keys.update(
      key.id,
      { name: changes.name, isActive: changes.isActive, expiresAt, ...limitFields(limits) },
      [...changeEntries(actor, key, after), ...limitEntries(actor, key, after.name, limits)],
      { live: key.supersededBy === '' && undoesRoll },
    );
    this.cache.evict(key.id);
    if (!updated) throw new ConflictException('this key was rolled by another request just now');
    return updated;
  }

  /**
   * Replaces a key by a new one with its name, settings and account: the old key keeps working
   * for `graceSeconds` (0: it is refused at once, EXPIRED), and keeps its usage under its id;
   * the new key's usage starts at zero. A key already rolled is 409: roll its successor. The
   * new key counts against MAX_KEYS_PER_ACCOUNT like any other.
   */
  roll(actor: Actor, ref: string, graceSeconds = 0): Promise<RolledKey> {
    return this.turns.run(actor.accountId, async () => {
      const old = await this.resolve(actor.accountId, ref);
      if (old.supersededBy !== '') {
        throw new ConflictException(
          `this key was already rolled into ${old.supersededBy}; roll that key instead`,
        );
      }
      let expiries: ReturnType<typeof rollExpiries>;
      try {
        expiries = rollExpiries(old.expiresAtMs, graceSeconds, Date.now());
      } catch (error) {
        if (error instanceof ExpiryError) throw new ConflictException(error.message);
        throw error;
      }
      await this.ensureRoom(actor.accountId);
      const { key, record } = this.newKey(old.name, old.isMaster);
      const audit = auditEntry(actor, 'key.rolled', targetOf(old), {
        successorId: { before: null, after: record.id },
        expiresAt: { before: isoOrNull(old.expiresAtMs), after: expiries.previous.toISOString() },
      });
      const rolled = await this.keys.roll(
        old,
        expiries.previous,
        {
          ...record,
          isActive: old.isActive,
          expiresAt: expiries.successor,
          ...limitFields(ownLimits(old)),
        },
        audit,
      );
      if (!rolled) {
        throw new ConflictException('this key was changed or rolled by another request just now');
      }
      this.cache.evict(old.id);
      this.cache.forgetUnknown(record.hash);
      return {
        key,
        stored: rolled.next,
        previous: rolled.previous,
        previousExpiresAt: expiries.previous,
      };
    });
  }

  /**
   * The ids whose usage a usage query of `ref` sums: the key's own, or with `lineage` every key
   * it was rolled from or into.
   */
  async usageIdsOf(accountId: string, ref: string, lineage: boolean): Promise<string[]> {
    const key = await this.resolve(accountId, ref);
    if (!lineage || key.lineageId === null) return [key.id];
    return this.keys.lineageIds(accountId, key.lineageId);
  }

  async delete(actor: Actor, ref: string): Promise<void> {
    const key = await this.resolve(actor.accountId, ref);
    if (key.isMaster) throw new BadRequestException('the master key cannot be deleted');
    await this.keys.delete(key, auditEntry(actor, 'key.deleted', targetOf(key)));
    this.cache.evict(key.id);
    this.meter.forget(key.id);
    this.enforcer.forget(key.id);
  }

  /**
   * The account's keys, recorded as revealed when the listing shows them in full
   * (KEY_STORAGE=encrypted): whoever lists them has seen every key.
   */
  async listRevealing(actor: Actor): Promise<KeyView[]> {
    const keys = await this.list(actor.accountId);
    if (keys.length > 0) await this.recordRevealed(actor);
    return keys;
  }

  /** The account's keys with totals that include this instance's unwritten usage. */
  list(accountId: string): Promise<KeyView[]> {
    return this.usage.consistently(async () => {
      const keys = await this.keys.listByAccount(accountId);
      return Promise.all(keys.map((k) => this.view(k)));
    });
  }

  /**
   * One page of the account's keys, oldest first, and the cursor of the next page (null on the
   * last). Without a limit a page holds MAX_KEYS_PER_ACCOUNT keys: all of them.
   */
  async page(
    actor: Actor,
    paging: { limit?: string; cursor?: string },
  ): Promise<{ keys: KeyView[]; nextCursor: string | null }> {
    let parsed: ReturnType<typeof parseKeyPaging>;
    try {
      parsed = parseKeyPaging(paging.limit, paging.cursor);
    } catch (error) {
      if (error instanceof KeyPagingError) throw new BadRequestException(error.message);
      throw error;
    }
    const { after } = parsed;
    const limit = parsed.limit ?? this.config.maxKeysPerAccount;
    const { accountId } = actor;
    const page = await this.usage.consistently(async () => {
      // One more than the page, to know whether another follows.
      const rows = await this.keys.listPage(accountId, after, limit + 1);
      const keys = rows.slice(0, limit);
      const last = keys[keys.length - 1];
      return {
        keys: await Promise.all(keys.map((k) => this.view(k))),
        nextCursor: rows.length > limit ? encodeKeyCursor(last) : null,
      };
    });
    if (page.keys.length > 0) await this.recordRevealed(actor);
    return page;
  }

  /** One key of the account (by plaintext or id) with its totals. */
  viewOf(accountId: string, ref: string): Promise<KeyView> {
    return this.usage.consistently(async () => this.view(await this.resolve(accountId, ref)));
  }

  /**
   * The key to show for `stored`: `plaintext` when the caller just sent it, else the stored
   * ciphertext opened, else the mask (KEY_STORAGE=hashed).
   */
  display(stored: StoredKey, plaintext?: string): string {
    return plaintext !== undefined && this.vault.isWellFormed(plaintext)
      ? plaintext
      : this.vault.reveal(stored);
  }

  private async view(stored: StoredKey): Promise<KeyView> {
    const key = this.usage.totals(stored);
    const limits = await this.limits.describe(key.id, key.limits);
    return {
      id: key.id,
      name: key.name,
      key: this.vault.reveal(key),
      isMaster: key.isMaster,
      isActive: key.isActive,
      createdAt: key.createdAt,
      updatedAt: key.updatedAt,
      lastUsedAt: key.lastUsedAt,
      usageCount: key.usageCount,
      volume: key.usageVolume,
      volumeOut: key.usageVolumeOut,
      ...(key.expiresAtMs === null ? {} : { expiresAt: new Date(key.expiresAtMs) }),
      ...(key.supersededBy === '' ? {} : { successorId: key.supersededBy }),
      ...limits,
    };
  }

  /**
   * A listing that showed keys in full, once per actor per audit window: the dashboard lists
   * the keys on every view of them, and one entry says as much as a hundred.
   */
  private async recordRevealed(actor: Actor): Promise<void> {
    const subject = `keys.revealed ${actor.accountId} ${actor.type} ${actor.id ?? ''}`;
    if (this.vault.recoverable && this.audit.firstInWindow(subject)) {
      await this.audit.record(actor, 'keys.revealed');
    }
  }

  private async ensureRoom(accountId: string): Promise<void> {
    const max = this.config.maxKeysPerAccount;
    if ((await this.keys.countInAccount(accountId)) >= max) {
      throw new ConflictException(
        `the account already holds ${max} keys, the most allowed (MAX_KEYS_PER_ACCOUNT); ` +
          'delete keys it no longer uses (rolled keys count until they are deleted)',
      );
    }
  }

  private async ensureNameFree(accountId: string, name: string, exceptId?: string): Promise<void> {
    if (await this.keys.nameTaken(accountId, name, exceptId)) {
      throw new ConflictException(`a key named "${name}" already exists in this account`);
    }
  }
}

/** An expiresAt as sent, or the 400 that says what to send. */
function expiryOf(value: string | null): Date | null {
  try {
    return parseExpiry(value, Date.now());
  } catch (error) {
    if (error instanceof ExpiryError) throw new BadRequestException(error.message);
    throw error;
  }
}

/** The key's own limits as they were before a change (its own, not the account's). */
function ownLimits(key: StoredKey): LimitSet {
  const limits = key.limits;
  return {
    rateLimit: limits?.rateSource === 'key' ? limits.rateLimit : null,
    quota: limits?.quotaSource === 'key' ? limits.quota : null,
  };
}

/** The audit entry of a change to the key's own limits, when one changes. */
function limitEntries(
  actor: Actor,
  key: StoredKey,
  name: string,
  changes: Partial<LimitSet>,
): NewAuditEntry[] {
  const changed = changedLimits(ownLimits(key), changes);
  if (changed === null) return [];
  return [auditEntry(actor, 'key.limits_changed', { keyId: key.id, keyName: name }, changed)];
}

const isoOrNull = (ms: number | null): string | null =>
  ms === null ? null : new Date(ms).toISOString();

const targetOf = (key: StoredKey) => ({ keyId: key.id, keyName: key.name });

/** The audit entries of a PATCH: one per field that changes, with its value before and after. */
function changeEntries(
  actor: Actor,
  key: StoredKey,
  after: { name: string; isActive: boolean; expiresAtMs: number | null },
): NewAuditEntry[] {
  const target = { keyId: key.id, keyName: after.name };
  const entries: NewAuditEntry[] = [];
  const add = (action: AuditAction, field: string, before: unknown, now: unknown) =>
    entries.push(auditEntry(actor, action, target, { [field]: { before, after: now } }));
  if (after.name !== key.name) add('key.renamed', 'name', key.name, after.name);
  if (after.isActive !== key.isActive) {
    const action = after.isActive ? 'key.activated' : 'key.deactivated';
    add(action, 'isActive', key.isActive, after.isActive);
  }
  if (after.expiresAtMs !== key.expiresAtMs) {
    add(
      'key.expiry_changed',
      'expiresAt',
      isoOrNull(key.expiresAtMs),
      isoOrNull(after.expiresAtMs),
    );
  }
  return entries;
}
