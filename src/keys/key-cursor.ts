/** Where a page of keys ends: the last key's place in the listing order (createdAt, id). */
export interface KeyCursor {
  createdAt: Date;
  id: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** An opaque cursor: base64url of "createdAt-in-ms.id". */
export function encodeKeyCursor(cursor: KeyCursor): string {
  return Buffer.from(`${cursor.createdAt.getTime()}.${cursor.id}`, 'utf8').toString('base64url');
}

/** The cursor `text` stands for, or null when it is not one encodeKeyCursor made. */
export function decodeKeyCursor(text: string): KeyCursor | null {
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(text)) return null;
  const decoded = Buffer.from(text, 'base64url').toString('utf8');
  const dot = decoded.indexOf('.');
  const ms = Number(decoded.slice(0, dot));
  const id = decoded.slice(dot + 1);
  if (dot < 1 || !Number.isSafeInteger(ms) || ms < 0 || !UUID.test(id)) return null;
  return { createdAt: new Date(ms), id };
}

/** The largest page GET /1.0/keys serves. */
export const MAX_PAGE = 100_000;

export class KeyPagingError extends Error {}

/**
 * `limit` and `cursor` of GET /1.0/keys, as the query string gave them (absent, or text): a
 * whole number of keys from 1 to MAX_PAGE, and a cursor this API returned.
 */
export function parseKeyPaging(
  limit: string | undefined,
  cursor: string | undefined,
): { limit?: number; after: KeyCursor | null } {
  let pageSize: number | undefined;
  if (limit !== undefined) {
    if (!/^\d{1,9}$/.test(limit)) throw new KeyPagingError('limit must be a whole number of keys');
    pageSize = Number(limit);
    if (pageSize < 1) throw new KeyPagingError('limit must be at least 1');
    if (pageSize > MAX_PAGE) throw new KeyPagingError(`limit must be at most ${MAX_PAGE}`);
  }
  const after = cursor === undefined ? null : decodeKeyCursor(cursor);
  if (cursor !== undefined && after === null) {
    throw new KeyPagingError('cursor must be a nextCursor this API returned');
  }
  return { limit: pageSize, after };
}
