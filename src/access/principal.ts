/** Who a request acts as, set by the global guard. */
interface Acting {
  accountId: string;
  /** The key the request acts as: the key it carried, or for a session the master key. */
  keyId: string;
  keyName: string;
  isMaster: boolean;
}

/** A request authenticated with an API key (and metered against it). */
export interface KeyPrincipal extends Acting {
  kind: 'key';
}

/**
 * A request authenticated by a signed-in dashboard session. It stands in for the account's
 * master key on master routes, and is not metered: no key was used.
 */
export interface SessionPrincipal extends Acting {
  kind: 'session';
  isMaster: true;
  sessionId: string;
  /** The account's email, for the page to show. */
  email: string;
  /** When the session ends (absolute, SESSION_TTL_HOURS after sign-in). */
  expiresAt: Date;
}

export type Principal = KeyPrincipal | SessionPrincipal;

/**
 * `master`: the master key or a session; `any-key`: any active key; `session`: a signed-in
 * session only (the dashboard's own session routes).
 */
export type Access = 'master' | 'any-key' | 'session';
