import { ConflictException, Injectable, UnauthorizedException } from '@nestjs/common';
import { KeysService, MASTER_KEY_NAME } from '../keys/keys.service';
import { AccountsRepository, StoredAccount } from './accounts.repository';
import { LoginThrottle } from './login-throttle';
import { hashPassword, normaliseEmail, verifyPassword } from './passwords';

export interface Registration {
  account: { id: string; email: string; createdAt: Date };
  masterKey: { id: string; name: string; key: string; createdAt: Date };
}

@Injectable()
export class AccountsService {
  private readonly throttle = new LoginThrottle();

  constructor(
    private readonly accounts: AccountsRepository,
    private readonly keys: KeysService,
  ) {}

  /** Creates an account and its master key; the key's plaintext is returned this once. */
  async register(email: string, password: string): Promise<Registration> {
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
   * Repeated failures for one email or from one address are refused with 429 for a while.
   */
  async authenticate(email: string, password: string, address: string): Promise<StoredAccount> {
    const normalised = normaliseEmail(email);
    this.throttle.check(normalised, address);
    const account = await this.accounts.findByEmail(normalised);
    const ok = await verifyPassword(account?.passwordHash ?? null, password);
    if (!account || !ok) {
      this.throttle.failed(normalised, address);
      throw new UnauthorizedException('wrong email or password');
    }
    this.throttle.succeeded(normalised);
    return account;
  }
}
