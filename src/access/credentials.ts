import type { IncomingHttpHeaders } from 'node:http';

/**
 * Why the credential headers cannot be read, each the message of the 401. A fixed set, so that
 * the guard can build each refusal once.
 */
export const CREDENTIAL_ERRORS = {
  syntax: 'use Authorization: Basic base64(KEY:) or Authorization: Bearer KEY',
  scheme: 'unsupported Authorization scheme; use Basic or Bearer',
  authorizationTooLong: 'the Authorization header is too long',
  base64: 'the Basic credentials are not valid base64',
  emptyUser: 'send the API key as the Basic user name (curl -u KEY:)',
  repeated: 'send one Authorization or x-api-key header, not several',
  apiKeyTooLong: 'the x-api-key header is too long',
  emptyApiKey: 'the x-api-key header is empty',
  differentKeys: 'the Authorization and x-api-key headers carry different keys',
} as const;

export type CredentialError = (typeof CREDENTIAL_ERRORS)[keyof typeof CREDENTIAL_ERRORS];

export type Credential = { key: string } | { error: CredentialError } | null;

/** Longer than any key of any prefix: refuse before doing anything else with it. */
const MAX_HEADER_LENGTH = 512;

/**
 * Reads the API key from `Authorization: Basic base64(KEY:)`, `Authorization: Bearer KEY` or
 * `x-api-key: KEY`. Returns null when none is present and an error message when what is
 * present cannot be a credential. `rawHeaders` (the request's) tells whether Authorization was
 * sent twice, which `headers` hides. Pure: no lookups.
 */
export function extractKey(headers: IncomingHttpHeaders, rawHeaders?: string[]): Credential {
  const authorization = headers.authorization;
  // Node keeps the first of repeated Authorization headers and drops the rest: a request that
  // sends two keys must not be metered against whichever came first.
  if (authorization !== undefined && rawHeaders && repeats(rawHeaders, 'authorization')) {
    return { error: CREDENTIAL_ERRORS.repeated };
  }
  const fromAuthorization = authorization === undefined ? null : parseAuthorization(authorization);
  if (fromAuthorization !== null && 'error' in fromAuthorization) return fromAuthorization;
  const apiKey = headers['x-api-key'];
  if (apiKey === undefined) return fromAuthorization;
  // Node joins repeated x-api-key headers with ", "; no key contains a comma.
  if (Array.isArray(apiKey) || apiKey.includes(',')) {
    return { error: CREDENTIAL_ERRORS.repeated };
  }
  if (apiKey.length > MAX_HEADER_LENGTH) return { error: CREDENTIAL_ERRORS.apiKeyTooLong };
  const key = apiKey.trim();
  if (key === '') return { error: CREDENTIAL_ERRORS.emptyApiKey };
  if (fromAuthorization !== null && fromAuthorization.key !== key) {
    return { error: CREDENTIAL_ERRORS.differentKeys };
  }
  return fromAuthorization ?? { key };
}

/** Whether the header `lowerName` occurs more than once in Node's raw [name, value, ...] list. */
function repeats(rawHeaders: string[], lowerName: string): boolean {
  let seen = false;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) {
      if (seen) return true;
      seen = true;
    }
  }
  return false;
}

const AUTHORIZATION = /^\s*(\S+)\s+(\S+)\s*$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function parseAuthorization(value: string): { key: string } | { error: CredentialError } {
  if (value.length > MAX_HEADER_LENGTH) return { error: CREDENTIAL_ERRORS.authorizationTooLong };
  const match = AUTHORIZATION.exec(value);
  if (!match) return { error: CREDENTIAL_ERRORS.syntax };
  const [, scheme, token] = match;
  switch (scheme.toLowerCase()) {
    case 'bearer':
      return { key: token };
    case 'basic': {
      if (!BASE64.test(token) || token.length % 4 !== 0) {
        return { error: CREDENTIAL_ERRORS.base64 };
      }
      const decoded = Buffer.from(token, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const user = colon === -1 ? decoded : decoded.slice(0, colon);
      if (user === '') return { error: CREDENTIAL_ERRORS.emptyUser };
      return { key: user };
    }
    default:
      return { error: CREDENTIAL_ERRORS.scheme };
  }
}
