import { hashPassword, normaliseEmail, verifyPassword } from './passwords';

const PASSWORD = 'correct horse battery staple';
const DUMMY_PASSWORD = 'keymeter-timing-equaliser';

describe(hashPassword.name, () => {
  let hash: string;

  beforeAll(async () => {
    hash = await hashPassword(PASSWORD);
  });

  it('produces an argon2id hash with OWASP minimum parameters (19 MiB, t=2, p=1)', () => {
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
  });

  it('does not contain the password', () => {
    expect(hash).not.toContain(PASSWORD);
  });

  it('salts each hash, so hashing the same password twice gives different strings', async () => {
    const again = await hashPassword(PASSWORD);

    expect(again).not.toBe(hash);
    expect(again.split('$')[4]).not.toBe(hash.split('$')[4]);
  });
});

describe(verifyPassword.name, () => {
  let hash: string;

  beforeAll(async () => {
    hash = await hashPassword(PASSWORD);
  });

  it('returns true for the right password', async () => {
    await expect(verifyPassword(hash, PASSWORD)).resolves.toBe(true);
  });

  it('returns false for a wrong password', async () => {
    await expect(verifyPassword(hash, 'wrong horse battery staple')).resolves.toBe(false);
    await expect(verifyPassword(hash, PASSWORD.toUpperCase())).resolves.toBe(false);
    await expect(verifyPassword(hash, '')).resolves.toBe(false);
  });

  it('returns false when there is no stored hash (unknown account)', async () => {
    await expect(verifyPassword(null, PASSWORD)).resolves.toBe(false);
  });

  it("returns false with no stored hash even for the dummy hash's own password", async () => {
    await expect(verifyPassword(null, DUMMY_PASSWORD)).resolves.toBe(false);
  });

  it('returns false instead of throwing when the stored hash is malformed', async () => {
    await expect(verifyPassword('not-a-hash', PASSWORD)).resolves.toBe(false);
    await expect(verifyPassword('', PASSWORD)).resolves.toBe(false);
  });
});

describe(normaliseEmail.name, () => {
  it('trims surrounding blanks and lowercases', () => {
    expect(normaliseEmail('  Alice.Smith@Example.COM \t\n')).toBe('alice.smith@example.com');
  });

  it('leaves an already normal email unchanged', () => {
    expect(normaliseEmail('bob@example.com')).toBe('bob@example.com');
  });

  it('keeps blanks inside the address', () => {
    expect(normaliseEmail(' A B@X.io ')).toBe('a b@x.io');
  });
});
