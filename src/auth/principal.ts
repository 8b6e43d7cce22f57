/** Who a request acts as, set by the global guard. */
export interface KeyPrincipal {
  kind: 'key';
  accountId: string;
  keyId: string;
  keyName: string;
  isMaster: boolean;
}

export type Principal = KeyPrincipal;

export type Access = 'master' | 'any-key';
