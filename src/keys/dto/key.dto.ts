import { Transform } from 'class-transformer';
import { IsInt, IsString, Max, MaxLength, Min } from 'class-validator';
import { IsOptionalNotNull } from '../../common/dto/optional';

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
}

export class KeyListResponseDto {
  success!: true;
  keys!: KeyDto[];
  /**
   * Only when `limit` or `cursor` was sent: the `cursor` of the next page, or null on the last.
   */
  nextCursor?: string | null;
}

const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^\d{1,9}$/.test(value) ? Number(value) : value;

/** Paging of GET /1.0/keys, oldest key first. Without either, one page holds every key. */
export class KeyListQueryDto {
  /**
   * Keys per page (default: MAX_KEYS_PER_ACCOUNT, so that one page holds them all).
   * @example 100
   */
  @IsOptionalNotNull()
  @Transform(toInt)
  @Max(100_000, { message: 'limit must be at most 100000' })
  @Min(1, { message: 'limit must be at least 1' })
  @IsInt({ message: 'limit must be a whole number of keys' })
  limit?: number;

  /** The `nextCursor` of the page before. */
  @IsOptionalNotNull()
  @MaxLength(100, { message: 'cursor must be a nextCursor this API returned' })
  @IsString({ message: 'cursor must be a nextCursor this API returned' })
  cursor?: string;
}

export class KeyResponseDto {
  success!: true;
  apiKey!: KeyDto;
}
