import type { IncomingHttpHeaders } from 'node:http';

export type Credential = { key: string } | { error: string } | null;

/** Longer than any key of any prefix: refuse before doing anything else with it. */
const MAX_HEADER_LENGTH = 512;

/**
 * Reads the API key from `Authorization: Basic base64(KEY:)`, `Authorization: Bearer KEY` or
 * `x-api-key: KEY`. Returns null when none is present and an error message when what is
 * present cannot be a credential. Pure: no lookups.
 */
export function extractKey(headers: IncomingHttpHeaders): Credential {
  const found: string[] = [];
  const authorization = headers.authorization;
  if (authorization !== undefined) {
    const parsed = parseAuthorization(authorization);
    if ('error' in parsed) return parsed;
    found.push(parsed.key);
  }
  const apiKey = headers['x-api-key'];
  if (apiKey !== undefined) {
    // Node joins repeated x-api-key headers with ", "; no key contains a comma.
    if (Array.isArray(apiKey) || apiKey.includes(',')) {
      return { error: 'send one x-api-key header' };
    }
    if (apiKey.length > MAX_HEADER_LENGTH) return { error: 'the x-api-key header is too long' };
    if (apiKey.trim() === '') return { error: 'the x-api-key header is empty' };
    found.push(apiKey.trim());
  }
  if (found.length === 0) return null;
  if (found.length === 2 && found[0] !== found[1]) {
    return { error: 'the Authorization and x-api-key headers carry different keys' };
  }
  return { key: found[0] };
}

function parseAuthorization(value: string): { key: string } | { error: string } {
  if (value.length > MAX_HEADER_LENGTH) return { error: 'the Authorization header is too long' };
  const match = /^\s*(\S+)\s+(\S+)\s*$/.exec(value);
  if (!match) {
    return { error: 'use Authorization: Basic base64(KEY:) or Authorization: Bearer KEY' };
  }
  const [, scheme, token] = match;
  switch (scheme.toLowerCase()) {
    case 'bearer':
      return { key: token };
    case 'basic': {
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(token) || token.length % 4 !== 0) {
        return { error: 'the Basic credentials are not valid base64' };
      }
      const decoded = Buffer.from(token, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const user = colon === -1 ? decoded : decoded.slice(0, colon);
      if (user === '') return { error: 'send the API key as the Basic user name (curl -u KEY:)' };
      return { key: user };
    }
    default:
      return { error: `unsupported Authorization scheme; use Basic or Bearer` };
  }
}
