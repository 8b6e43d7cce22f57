import {
  ConflictException,
  ForbiddenException,
  Inject,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { accountActor, type RequestOrigin } from '../audit/actor';
import { auditEntry } from '../audit/audit-entry';
import { AuditService } from '../audit/audit.service';
import { APP_CONFIG, AppConfig } from '../config/config';
import { HOUR_MS } from '../usage/time';
import { KeysService, MASTER_KEY_NAME } from '../keys/keys.service';
import { AccountsRepository, StoredAccount } from './accounts.repository';
import { AttemptWindows, LoginThrottle, TooManyAttemptsException } from './login-throttle';
import { hashPassword, normaliseEmail, verifyPassword } from './passwords';

export interface Registration {
  account: { id: string; email: string; createdAt: Date };
  masterKey: { id: string; name: string; key: string; createdAt: Date };
}

@Injectable()
export class AccountsService {
  private readonly throttle = new LoginThrottle();
  private readonly registrations: AttemptWindows;

  constructor(
    private readonly accounts: AccountsRepository,
    private readonly keys: KeysService,
    private readonly audit: AuditService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.registrations = new AttemptWindows(config.registrationsPerAddressPerHour, HOUR_MS, true);
  }

  /**
   * Sign-up from a client at `address`: refused (403) when the operator closed registration,
   * and (429) past REGISTRATIONS_PER_ADDRESS_PER_HOUR from one address, each attempt counted
   * whether or not it succeeds: every one may cost a password hash.
   */
  async register(email: string, password: string, origin: RequestOrigin): Promise<Registration> {
    const address = origin.ip ?? '';
    if (this.config.registration === 'closed') {
      throw new ForbiddenException(
        'registration is closed on this server; an operator creates accounts (npm run account:create)',
      );
    }
    const now = Date.now();
    const wait = this.registrations.wait(address, now);
    if (wait > 0) throw new TooManyAttemptsException(Math.ceil(wait / 1000), 'registrations');
    this.registrations.reserve(address, now);
    try {
      return await this.createAccount(email, password, origin);
    } finally {
      this.registrations.release(address, true);
    }
  }

  /**
   * Creates an account and its master key; the key's plaintext is returned this once. Without
   * an origin, an operator made it (npm run account:create).
   */
  async createAccount(
    email: string,
    password: string,
    origin: RequestOrigin = { ip: null, userAgent: null, requestId: null },
  ): Promise<Registration> {
    const normalised = normaliseEmail(email);
    if (await this.accounts.findByEmail(normalised)) {
      throw new ConflictException('an account with this email already exists');
    }
    const { key, record } = this.keys.newKey(MASTER_KEY_NAME, true);
    const id = randomUUID();
    const audit = auditEntry(accountActor(id, 'anonymous', origin), 'account.registered', {
      keyId: record.id,
      keyName: record.name,
    });
    // A concurrent registration of the same email still ends in 409: the unique index raises
    // P2002, which the error filter maps.
    const created = await this.accounts.createWithMasterKey(
      { id, email: normalised, passwordHash: await hashPassword(password) },
      record,
      audit,
    );
    return {
      account: {
        id: created.account.id,
        email: created.account.email,
        createdAt: created.account.createdAt,
      },
      masterKey: {
        id: created.key.id,
        name: created.key.name,
        key,
        createdAt: created.key.createdAt,
      },
    };
  }

  /**
   * The account these credentials open, or 401 (the same for a wrong email or password).
   * Repeated failures for one email or from one address are refused with 429 for a while; the
   * attempt is reserved before the password check, so parallel attempts count too.
   */
  async authenticate(
    email: string,
    password: string,
    origin: RequestOrigin,
  ): Promise<StoredAccount> {
    const normalised = normaliseEmail(email);
    let attempt: Awaited<ReturnType<LoginThrottle['reserve']>>;
    try {
      attempt = await this.throttle.reserve(normalised, origin.ip ?? '');
    } catch (error) {
      if (error instanceof TooManyAttemptsException) await this.recordThrottled(normalised, origin);
      throw error;
    }
    let account: StoredAccount | null;
    let ok: boolean;
    try {
      account = await this.accounts.findByEmail(normalised);
      ok = await verifyPassword(account?.passwordHash ?? null, password);
    } catch (error) {
      attempt.abandoned();
      throw error;
    }
    if (!account || !ok) {
      attempt.failed();
      // An email without an account has no log to write to. Not awaited: a failure must take
      // as long for an email with an account as for one without, or the time would tell.
      if (account) {
        void this.audit.recordQuietly(
          accountActor(account.id, 'anonymous', origin),
          'sign_in.failed',
        );
      }
      throw new UnauthorizedException('wrong email or password');
    }
    attempt.succeeded();
    return account;
  }

  /** The first throttled sign-in of an email in a window, for the account it names (if any). */
  private async recordThrottled(email: string, origin: RequestOrigin): Promise<void> {
    if (!this.audit.firstInWindow(`sign_in.throttled ${email}`)) return;
    const account = await this.accounts.findByEmail(email).catch(() => null);
    if (!account) return;
    await this.audit.recordQuietly(
      accountActor(account.id, 'anonymous', origin),
      'sign_in.throttled',
    );
  }
}
