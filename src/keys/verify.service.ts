import { Injectable } from '@nestjs/common';
import { AccessGate } from '../access/access-gate';
import { Refusal } from '../access/refusal';
import type { VerifyCode, VerifyResultDto } from './dto/verify.dto';

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
    await this.gate.record(key.id, volume);
    return { success: true, valid: true, code: 'VALID', keyId: key.id, name: key.name };
  }
}
