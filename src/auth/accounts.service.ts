import {
  ConflictException,
  ForbiddenException,
  Inject,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
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
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.registrations = new AttemptWindows(config.registrationsPerAddressPerHour, HOUR_MS, true);
  }

  /**
   * Sign-up from a client at `address`: refused (403) when the operator closed registration,
   * and (429) past REGISTRATIONS_PER_ADDRESS_PER_HOUR from one address, each attempt counted
   * whether or not it succeeds: every one may cost a password hash.
   */
  async register(email: string, password: string, address: string): Promise<Registration> {
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
      return await this.createAccount(email, password);
    } finally {
      this.registrations.release(address, true);
    }
  }

  /** Creates an account and its master key; the key's plaintext is returned this once. */
  async createAccount(email: string, password: string): Promise<Registration> {
    const normalised = normaliseEmail(email);
    if (await this.accounts.findByEmail(normalised)) {
      throw new ConflictException('an account with this email already exists');
    }
    const { key, record } = this.keys.newKey(MASTER_KEY_NAME, true);
    // A concurrent registration of the same email still ends in 409: the unique index raises
    // P2002, which the error filter maps.
    const created = await this.accounts.createWithMasterKey(
      normalised,
      await hashPassword(password),
      record,
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
  async authenticate(email: string, password: string, address: string): Promise<StoredAccount> {
    const normalised = normaliseEmail(email);
    const attempt = await this.throttle.reserve(normalised, address);
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
      throw new UnauthorizedException('wrong email or password');
    }
    attempt.succeeded();
    return account;
  }
}
