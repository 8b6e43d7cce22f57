import type { LimitInput } from '../limits/limits';
import { Injectable } from '@nestjs/common';
import type { Actor } from '../audit/actor';
import { KeysService, KeyView } from '../keys/keys.service';
import { computeAnalytics, UsageAnalytics } from './analytics';
import type { GeneratedKeyDto } from './dto/radar.dto';

/** The Radar document's operations, on the shared keys service. */
@Injectable()
export class RadarService {
  constructor(private readonly keys: KeysService) {}

  async generate(
    actor: Actor,
    name?: string,
    expiresAt?: string | null,
    limits: LimitInput = {},
  ): Promise<GeneratedKeyDto> {
    const { key, stored } = await this.keys.create(
      actor,
      name ?? (await this.defaultName(actor.accountId)),
      expiresAt,
      limits,
    );
    return {
      apiKey: key,
      id: stored.id,
      name: stored.name,
      createdAt: stored.createdAt,
      isActive: stored.isActive,
      ...(stored.expiresAtMs === null ? {} : { expiresAt: new Date(stored.expiresAtMs) }),
    };
  }

  list(actor: Actor): Promise<KeyView[]> {
    return this.keys.listRevealing(actor);
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
