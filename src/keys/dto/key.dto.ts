import { ApiProperty } from '@nestjs/swagger';
export class RateLimitViewDto {
  limit!: number;
  windowSeconds!: number;
  @ApiProperty({ enum: ['key', 'account'] })
  source!: 'key' | 'account';
}

class QuotaUsedDto {
  /** Requests used this period (when the quota limits requests). */
  requests?: number;
  /** Bytes used this period (when the quota limits bytes). */
  volumeBytes?: number;
}

export class QuotaViewDto {
  requests?: number;
  volumeBytes?: number;
  @ApiProperty({ enum: ['day', 'month', 'total'] })
  period!: 'day' | 'month' | 'total';
  @ApiProperty({ enum: ['key', 'account'] })
  source!: 'key' | 'account';
  used!: QuotaUsedDto;
  /** When the allowance resets; null for a total quota. */
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  resetsAt!: Date | null;
}

/** A key as its account sees it. */
export class KeyDto {
  /** @example 6f1c2a4e-8b7d-4c39-9a51-0e2f3d4c5b6a */
  id!: string;
  /** @example my awesome key */
  name!: string;
  /** The key itself, or its masked form when KEY_STORAGE=hashed. */
  key!: string;
  isMaster!: boolean;
  isActive!: boolean;
  createdAt!: Date;
  updatedAt!: Date;
  /** Null until the key is first used. */
  lastUsedAt!: Date | null;
  /** Requests made with the key. */
  usageCount!: number;
  /** Bytes of request bodies sent with the key. */
  volume!: number;
  /** Bytes of response bodies sent back for the key's requests (gateway mode and the API's own). */
  volumeOut!: number;
  /** Only on a key that expires: from then on it is refused (401, code EXPIRED). */
  expiresAt?: Date;
  /** Only on a rolled key: the id of the key it was rolled into. */
  successorId?: string;
  /** Only on a rate-limited key: its limit, and whether the key or the account set it. */
  rateLimit?: RateLimitViewDto;
  /** Only on a key with a quota: the allowance, the current period's use and its reset. */
  quota?: QuotaViewDto;
}

export class KeyListResponseDto {
  success!: true;
  keys!: KeyDto[];
  /**
   * Only when `limit` or `cursor` was sent: the `cursor` of the next page, or null on the last.
   */
  nextCursor?: string | null;
}

export class KeyResponseDto {
  success!: true;
  apiKey!: KeyDto;
}
