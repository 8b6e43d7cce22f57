import { CredentialsDto } from './register.dto';

/** Email and password of the account to sign in to. */
export class SignInDto extends CredentialsDto {}

export class SessionAccountDto {
  id!: string;
  /** @example user@example.com */
  email!: string;
}

export class SessionDto {
  account!: SessionAccountDto;
  /** When the session ends; sign in again after it. */
  expiresAt!: Date;
  /**
   * Send it as the `x-csrf-token` header on every POST, PUT, PATCH and DELETE made with the
   * session cookie. It is the same for the whole session.
   */
  csrfToken!: string;
  /** Whether keys can be shown again (KEY_STORAGE=encrypted); listings show them in full then. */
  keysRecoverable!: boolean;
}

export class SessionResponseDto {
  success!: true;
  data!: SessionDto;
}
