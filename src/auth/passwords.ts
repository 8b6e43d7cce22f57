import { hash, verify } from '@node-rs/argon2';

/**
 * argon2id with OWASP's recommended minimum parameters (19 MiB, 2 iterations, 1 lane).
 * 2 is Algorithm.Argon2id, a `const enum` that isolated TypeScript builds cannot inline.
 */
const OPTIONS = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 256;

export function hashPassword(password: string): Promise<string> {
  return hash(password, OPTIONS);
}

let dummyHash: Promise<string> | undefined;

/**
 * Checks a password. With no stored hash (unknown email) it still verifies against a dummy hash,
 * so the response time does not tell whether an account exists.
 */
export async function verifyPassword(stored: string | null, password: string): Promise<boolean> {
  dummyHash ??= hashPassword('keymeter-timing-equaliser');
  const target = stored ?? (await dummyHash);
  const ok = await verify(target, password).catch(() => false);
  return stored !== null && ok;
}

/**
 * Emails compare in NFKC form (fullwidth `ａ` is `a`), case-insensitively and without
 * surrounding blanks, so that look-alikes of an address are that address.
 */
export function normaliseEmail(email: string): string {
  return email.normalize('NFKC').trim().toLowerCase();
}
