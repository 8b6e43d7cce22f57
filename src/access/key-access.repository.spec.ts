import { toKeyAccess } from './key-access.repository';

describe(toKeyAccess.name, () => {
  const id = '6f1c2a9e-0d7b-4a53-9b1e-2f8c7d6e5a41';
  const accountId = '0b9a8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d';

  const none = [null, null, null, null, null];

  it('reads SQLite booleans (0/1) and integer epoch ms as they come', () => {
    expect(
      toKeyAccess([id, accountId, 'ci', 1, 0, 1_800_000_000_000, ...none, ...none]),
    ).toStrictEqual({
      id,
      accountId,
      name: 'ci',
      isMaster: true,
      isActive: false,
      expiresAtMs: 1_800_000_000_000,
      limits: null,
    });
  });

  it('reads PostgreSQL booleans and numeric text epoch ms as they come', () => {
    expect(
      toKeyAccess([id, accountId, 'ci', false, true, '1800000000000', ...none, ...none]),
    ).toStrictEqual({
      id,
      accountId,
      name: 'ci',
      isMaster: false,
      isActive: true,
      expiresAtMs: 1_800_000_000_000,
      limits: null,
    });
  });

  it("reads the key's own limits, else its account's; the master key follows none", () => {
    const own = [100, 60, null, null, null];
    const account = [null, null, '5000000000', null, 'month'];
    expect(toKeyAccess([id, accountId, 'ci', 0, 1, null, ...own, ...account]).limits).toEqual({
      rateLimit: { limit: 100, windowSeconds: 60 },
      rateSource: 'key',
      quota: { requests: 5_000_000_000, volumeBytes: null, period: 'month' },
      quotaSource: 'account',
    });
    expect(
      toKeyAccess([id, accountId, 'master', 1, 1, null, ...none, ...account]).limits,
    ).toBeNull();
  });

  it('reads a key without expiry as expiresAtMs null', () => {
    expect(toKeyAccess([id, accountId, 'ci', true, true, null]).expiresAtMs).toBeNull();
  });
});
