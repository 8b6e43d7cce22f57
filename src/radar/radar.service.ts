import { Injectable } from '@nestjs/common';
import { KeysService, KeyView } from '../keys/keys.service';
import { computeAnalytics, UsageAnalytics } from './analytics';
import type { GeneratedKeyDto } from './dto/radar.dto';

/** The Radar document's operations, on the shared keys service. */
@Injectable()
export class RadarService {
  constructor(private readonly keys: KeysService) {}

  async generate(accountId: string, name?: string): Promise<GeneratedKeyDto> {
    const { key, stored } = await this.keys.create(
      accountId,
      name ?? (await this.defaultName(accountId)),
    );
    return {
      apiKey: key,
      id: stored.id,
      name: stored.name,
      createdAt: stored.createdAt,
      isActive: stored.isActive,
    };
  }

  list(accountId: string): Promise<KeyView[]> {
    return this.keys.list(accountId);
  }

  async analytics(accountId: string, apiKeyId?: string): Promise<UsageAnalytics> {
    const keys = apiKeyId
      ? [await this.keys.viewOf(accountId, apiKeyId)]
      : await this.keys.list(accountId);
    return computeAnalytics(keys);
  }

  /** "API key N" with the first N not taken in the account. */
  private async defaultName(accountId: string): Promise<string> {
    const names = new Set((await this.keys.list(accountId)).map((k) => k.name));
    let n = names.size;
    while (names.has(`API key ${n}`)) n++;
    return `API key ${n}`;
  }
}
