import { Injectable } from '@nestjs/common';
import { AccessGate } from '../access/access-gate';
import { Refusal } from '../access/refusal';
import type { LimitVerdict } from '../limits/limits-enforcer';
import type { VerifyCode, VerifyRemainingDto, VerifyResultDto } from './dto/verify.dto';

/** What is left of a limited key's limits, for verify's answer. */
function remainingOf(verdict: LimitVerdict): { remaining: VerifyRemainingDto } {
  const remaining: VerifyRemainingDto = {};
  if (verdict.rate) remaining.rateLimit = verdict.rate.remaining;
  if (verdict.quota?.remainingRequests != null)
    remaining.requests = verdict.quota.remainingRequests;
  if (verdict.quota?.remainingVolume != null) remaining.volumeBytes = verdict.quota.remainingVolume;
  return { remaining };
}

/** Key verification for other services, through the same gate as every request. */
@Injectable()
export class VerifyService {
  constructor(private readonly gate: AccessGate) {}

  async verify(accountId: string, candidate: string, volume: number): Promise<VerifyResultDto> {
    const key = await this.gate.find({ key: candidate });
    if (key instanceof Refusal || key.accountId !== accountId) {
      return { success: true, valid: false, code: 'NOT_FOUND', keyId: null, name: null };
    }
    const refusal = this.gate.refusalFor(key, 'any-key');
    if (refusal) {
      // Under 'any-key' a known key is refused only for what it is (deactivated, ...), whose
      // codes are verify's own.
      const code = refusal.code as VerifyCode;
      return { success: true, valid: false, code, keyId: key.id, name: key.name };
    }
    // The check and the use are one step: an admitted verify has consumed its place.
    const verdict = await this.gate.limit(key, volume);
    const limits = verdict ? remainingOf(verdict) : {};
    if (verdict?.refused) {
      return {
        success: true,
        valid: false,
        code: verdict.refused,
        keyId: key.id,
        name: key.name,
        ...limits,
        ...(verdict.retryAfterSeconds !== null && { retryAfterSeconds: verdict.retryAfterSeconds }),
      };
    }
    await this.gate.record(key.id, volume);
    return { success: true, valid: true, code: 'VALID', keyId: key.id, name: key.name, ...limits };
  }
}
