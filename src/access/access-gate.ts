import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  applyLimitHeaders,
  LimitHeaderTarget,
  LimitsEnforcer,
  LimitVerdict,
} from '../limits/limits-enforcer';
import { ApiAnswers } from '../usage/api-answers';
import { KeyVault } from '../common/crypto/key-vault.service';
import { UsageMeter } from '../usage/usage-meter.service';
import type { Credential } from './credentials';
import type { KeyAccess } from './key-access.repository';
import { KeyCache } from './key-cache.service';
import type { KeyPrincipal } from './principal';
import { CREDENTIAL_REFUSALS, LIMIT_REFUSALS, Refusal, REFUSALS } from './refusal';
import { requestBodyBytes } from './request-bytes';

/** Which keys an entrance takes: only the account's master key, or any active key. */
export type KeyRule = 'master' | 'any-key';

/** What the gate answers; synchronous whenever it can be (a cached key, buffered metering). */
export type Admission<T> = T | Refusal | Promise<T | Refusal>;

/**
 * The request gate, free of the framework: credentials in, a principal or a refusal out, and
 * the use recorded. The global guard, /1.0/verify and any other entrance that admits requests
 * with a key ask it, so that a rule added here (expiry, limits) holds at every one of them.
 *
 * It runs on every request: a cached key costs no promise, a refusal is a value, not a throw.
 */
export class AccessGate {
  constructor(
    private readonly vault: KeyVault,
    private readonly cache: KeyCache,
    private readonly meter: UsageMeter,
    private readonly limits: LimitsEnforcer,
    private readonly answers: ApiAnswers,
    /** The clock expiry and limits are judged by (tests move it). */
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Admits a request carrying `credential` under `rule`, holds it to the key's limits and
   * meters its body against the key. A limited key's RateLimit headers (and a refusal's
   * Retry-After) are set on `response`.
   */
  admit(
    credential: Credential,
    rule: KeyRule,
    request: IncomingMessage,
    response: ServerResponse,
  ): Admission<KeyPrincipal> {
    const volume = requestBodyBytes(request);
    const key = this.authorize(credential, rule, volume, response);
    return key instanceof Promise
      ? key.then((found) => this.use(found, volume, response))
      : this.use(key, volume, response);
  }

  /**
   * What admit() decides, without recording the use: the key, once it may be used under `rule`
   * and its limits admit (and consume) `volume` bytes; or why not. The gateway records the use
   * itself, when the exchange is over and its bytes are known.
   */
  authorize(
    credential: Credential,
    rule: KeyRule,
    volume: number,
    response: LimitHeaderTarget,
  ): Admission<KeyAccess> {
    const found = this.find(credential);
    return found instanceof Promise
      ? found.then((key) => this.authorizeKey(key, rule, volume, response))
      : this.authorizeKey(found, rule, volume, response);
  }

  /**
   * Holds one use of `volume` bytes to the key's limits, consuming it when admitted (a
   * refusal is counted apart). Keys without limits, the common case, cost one comparison.
   */
  limit(key: KeyAccess, volume: number): LimitVerdict | null | Promise<LimitVerdict> {
    return key.limits === null ? null : this.limits.check(key.id, key.limits, volume, this.now());
  }

  /** The key the credential names, or why there is none. Looks at the database only on a miss. */
  find(credential: Credential): Admission<KeyAccess> {
    if (credential === null) return REFUSALS.noKey;
    if ('error' in credential) {
      return CREDENTIAL_REFUSALS.get(credential.error) ?? REFUSALS.malformed;
    }
    const hash = this.vault.hash(credential.key);
    // Only real keys are cached, so a cached one needs no shape or checksum check: that check
    // is for the others, which it refuses before any database work.
    const cached = this.cache.knownKey(hash);
    if (cached !== undefined) return cached;
    if (!this.vault.isWellFormed(credential.key)) return REFUSALS.malformed;
    const found = this.cache.find(hash);
    return found instanceof Promise ? found.then(orUnknown) : orUnknown(found);
  }

  /**
   * Why this key may not be used under `rule` now, or null when it may. Expiry is judged from
   * the cached key's own instant against the clock, so it takes effect at that instant on every
   * instance, with no cache flush.
   */
  refusalFor(key: KeyAccess, rule: KeyRule): Refusal | null {
    if (!key.isActive) return REFUSALS.deactivated;
    if (key.expiresAtMs !== null && this.now() >= key.expiresAtMs) return REFUSALS.expired;
    if (rule === 'master' && !key.isMaster) return REFUSALS.notMaster;
    return null;
  }

  /** Records one use of the key; a promise only in strict mode (written before it resolves). */
  record(keyId: string, volume: number, atMs = Date.now()): Promise<void> | undefined {
    return this.meter.record(keyId, volume, atMs);
  }

  private authorizeKey(
    key: KeyAccess | Refusal,
    rule: KeyRule,
    volume: number,
    response: LimitHeaderTarget,
  ): Admission<KeyAccess> {
    if (key instanceof Refusal) return key;
    const refusal = this.refusalFor(key, rule);
    if (refusal) return refusal;
    const verdict = this.limit(key, volume);
    if (verdict === null) return key;
    return verdict instanceof Promise
      ? verdict.then((decided) => afterLimits(key, decided, response))
      : afterLimits(key, verdict, response);
  }

  private use(
    key: KeyAccess | Refusal,
    volume: number,
    response: ServerResponse,
  ): Admission<KeyPrincipal> {
    if (key instanceof Refusal) return key;
    const principal: KeyPrincipal = {
      kind: 'key',
      accountId: key.accountId,
      keyId: key.id,
      keyName: key.name,
      isMaster: key.isMaster,
    };
    // The answer is counted in the use's minute, whenever it ends.
    const atMs = Date.now();
    this.answers.observe(response, key.id, atMs);
    const write = this.record(key.id, volume, atMs);
    return write ? write.then(() => principal) : principal;
  }
}

function afterLimits(
  key: KeyAccess,
  verdict: LimitVerdict,
  response: LimitHeaderTarget,
): KeyAccess | Refusal {
  applyLimitHeaders(response, verdict);
  return verdict.refused === null ? key : LIMIT_REFUSALS[verdict.refused];
}

const orUnknown = (key: KeyAccess | null): KeyAccess | Refusal => key ?? REFUSALS.unknown;
