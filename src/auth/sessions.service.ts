import { Inject, Injectable } from '@nestjs/common';
import { accountActor, type Actor, type RequestOrigin } from '../audit/actor';
import { AuditService } from '../audit/audit.service';
import { KeyVault } from '../common/crypto/key-vault.service';
import { APP_CONFIG, AppConfig } from '../config/config';
import { AccountsService } from './accounts.service';
import {
  csrfTokenFor,
  csrfTokenMatches,
  hashSessionToken,
  isWellFormedSessionToken,
  newSessionToken,
} from './session-token';
import { SessionsRepository } from './sessions.repository';

const HOUR_MS = 3_600_000;

/** A signed-in dashboard session, as the guard and the session routes see it. */
export interface ActiveSession {
  id: string;
  accountId: string;
  email: string;
  expiresAt: Date;
  masterKeyId: string;
  masterKeyName: string;
}

export interface SessionView {
  account: { id: string; email: string };
  expiresAt: Date;
  csrfToken: string;
  keysRecoverable: boolean;
}

/**
 * Dashboard sign-in: email and password (through AccountsService, so failures are throttled
 * exactly like the Radar routes) open a session whose random token lives in an httpOnly cookie
 * and whose SHA-256 lives in the database, until it expires (SESSION_TTL_HOURS, absolute).
 */
@Injectable()
export class SessionsService {
  constructor(
    private readonly sessions: SessionsRepository,
    private readonly accounts: AccountsService,
    private readonly vault: KeyVault,
    private readonly audit: AuditService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  get ttlMs(): number {
    return this.config.sessionTtlHours * HOUR_MS;
  }

  /**
   * Checks the credentials and opens a new session; returns its token (for the cookie only).
   * A session the browser already held is closed: every sign-in gets a fresh token.
   */
  async signIn(
    email: string,
    password: string,
    origin: RequestOrigin,
    previousToken?: unknown,
  ): Promise<{ token: string; view: SessionView }> {
    const account = await this.accounts.authenticate(email, password, origin);
    const now = new Date();
    if (isWellFormedSessionToken(previousToken)) {
      await this.sessions.deleteByTokenHash(hashSessionToken(previousToken));
    }
    await this.sessions.deleteExpired(now);
    const token = newSessionToken();
    const expiresAt = new Date(now.getTime() + this.ttlMs);
    await this.sessions.create(account.id, hashSessionToken(token), expiresAt);
    await this.audit.record(accountActor(account.id, 'password', origin), 'session.signed_in');
    return {
      token,
      view: this.view(token, { accountId: account.id, email: account.email, expiresAt }),
    };
  }

  /** The live session this cookie value opens, or null (unknown, malformed or expired). */
  async find(token: unknown, now = new Date()): Promise<ActiveSession | null> {
    if (!isWellFormedSessionToken(token)) return null;
    const stored = await this.sessions.findByTokenHash(hashSessionToken(token));
    if (!stored || !stored.masterKey) return null;
    if (stored.expiresAt.getTime() <= now.getTime()) return null;
    return {
      id: stored.id,
      accountId: stored.accountId,
      email: stored.email,
      expiresAt: stored.expiresAt,
      masterKeyId: stored.masterKey.id,
      masterKeyName: stored.masterKey.name,
    };
  }

  /** Ends the session this cookie value opens, if any. */
  async signOut(actor: Actor, token: unknown): Promise<void> {
    if (isWellFormedSessionToken(token)) {
      await this.sessions.deleteByTokenHash(hashSessionToken(token));
    }
    await this.audit.record(actor, 'session.signed_out');
  }

  csrfMatches(token: string, presented: unknown): boolean {
    return csrfTokenMatches(token, presented);
  }

  /** What the page needs to know about its session (the CSRF token included). */
  view(
    token: string,
    session: Pick<ActiveSession, 'accountId' | 'email' | 'expiresAt'>,
  ): SessionView {
    return {
      account: { id: session.accountId, email: session.email },
      expiresAt: session.expiresAt,
      csrfToken: csrfTokenFor(token),
      keysRecoverable: this.vault.recoverable,
    };
  }
}
