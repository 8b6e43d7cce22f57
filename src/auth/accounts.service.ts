import { ConflictException, Injectable, UnauthorizedException } from '@nestjs/common';
import { KeysService, MASTER_KEY_NAME } from '../keys/keys.service';
import { AccountsRepository, StoredAccount } from './accounts.repository';
import { hashPassword, normaliseEmail, verifyPassword } from './passwords';

export interface Registration {
  account: { id: string; email: string; createdAt: Date };
  masterKey: { id: string; name: string; key: string; createdAt: Date };
}

@Injectable()
export class AccountsService {
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
      masterKey: { id: created.key.id, name: created.key.name, key, createdAt: created.key.createdAt },
    };
  }

  /** The account these credentials open, or 401 (the same for a wrong email or password). */
  async authenticate(email: string, password: string): Promise<StoredAccount> {
    const account = await this.accounts.findByEmail(normaliseEmail(email));
    const ok = await verifyPassword(account?.passwordHash ?? null, password);
    if (!account || !ok) throw new UnauthorizedException('wrong email or password');
    return account;
  }
}
