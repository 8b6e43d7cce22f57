import type { KeyVault } from '../common/crypto/key-vault.service';
import type { UsageMeter } from '../usage/usage-meter.service';
import type { LimitsEnforcer } from '../limits/limits-enforcer';
import { ApiAnswers } from '../usage/api-answers';
import { AccessGate } from './access-gate';
import type { KeyAccess } from './key-access.repository';
import type { KeyCache } from './key-cache.service';
import { REFUSALS } from './refusal';

const EXPIRY = Date.UTC(2027, 0, 1);

function key(expiresAtMs: number | null, isActive = true): KeyAccess {
  return {
    id: 'k',
    accountId: 'a',
    name: 'n',
    isMaster: false,
    isActive,
    expiresAtMs,
    limits: null,
  };
}

describe('AccessGate.refusalFor and expiry', () => {
  let now = 0;
  const gate = new AccessGate(
    {} as KeyVault,
    {} as KeyCache,
    {} as UsageMeter,
    {} as LimitsEnforcer,
    {} as ApiAnswers,
    () => now,
  );

  it.each([
    [EXPIRY - 1, null],
    [EXPIRY, REFUSALS.expired],
    [EXPIRY + 1, REFUSALS.expired],
  ])('at %i a key expiring at the new year is refused with %p', (at, refusal) => {
    now = at;
    expect(gate.refusalFor(key(EXPIRY), 'any-key')).toBe(refusal);
  });

  it('never refuses a key without expiry for its age', () => {
    now = Number.MAX_SAFE_INTEGER;
    expect(gate.refusalFor(key(null), 'any-key')).toBeNull();
  });

  it('says a deactivated key is deactivated, even once it has expired', () => {
    now = EXPIRY + 1;
    expect(gate.refusalFor(key(EXPIRY, false), 'any-key')).toBe(REFUSALS.deactivated);
  });

  it('names EXPIRED in the envelope, while the first refusals keep the published one', () => {
    expect(REFUSALS.expired).toMatchObject({ status: 401, code: 'EXPIRED', inEnvelope: true });
    for (const refusal of [REFUSALS.noKey, REFUSALS.unknown, REFUSALS.deactivated]) {
      expect(refusal.inEnvelope).toBe(false);
    }
  });
});
