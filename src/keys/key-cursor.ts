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
