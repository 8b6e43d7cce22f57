import { QuotaViewDto, RateLimitViewDto } from './key.dto';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsString, Max, MaxLength, Min } from 'class-validator';
import { IsOptionalNotNull } from '../../common/dto/optional';

/** The largest volume one verified use may record: 1 TiB keeps every total far from 2^53. */
export const MAX_VOLUME = 2 ** 40;

export class VerifyKeyDto {
  /** The key a client presented to your service. */
  // Decorators run bottom-up: the type check comes last so that it is reported first.
  @MaxLength(512)
  @IsString({ message: 'key must be a string' })
  key!: string;

  /**
   * Bytes to record as the volume of this use (default 0).
   * @example 1024
   */
  // Absent means 0; null is refused like any other non-number.
  @IsOptionalNotNull()
  @Max(MAX_VOLUME, { message: `volume must be at most ${MAX_VOLUME} bytes (1 TiB)` })
  @Min(0, { message: 'volume must not be negative' })
  @IsInt({ message: 'volume must be a whole number of bytes' })
  volume?: number;
}

export const VERIFY_CODES = [
  'VALID',
  'NOT_FOUND',
  'DISABLED',
  'EXPIRED',
  'RATE_LIMITED',
  'USAGE_EXCEEDED',
  'QUOTA_UNAVAILABLE',
] as const;
export type VerifyCode = (typeof VERIFY_CODES)[number];

export class VerifyRemainingDto {
  @ApiPropertyOptional({ description: 'Requests left in the rate window.' })
  rateLimit?: number;
  @ApiPropertyOptional({ description: "Requests left in the quota's period." })
  requests?: number;
  @ApiPropertyOptional({ description: "Bytes left in the quota's period." })
  volumeBytes?: number;
}

// Every property is declared explicitly: inferred from the union type, the code's enum would be
// listed in the compiler's order of the literals, which moves as files are added.
export class VerifyResultDto {
  @ApiProperty()
  success!: true;
  @ApiProperty()
  valid!: boolean;
  @ApiProperty({
    description:
      "VALID, NOT_FOUND (unknown, malformed or another account's), DISABLED, EXPIRED, " +
      'RATE_LIMITED, USAGE_EXCEEDED, or QUOTA_UNAVAILABLE (the quota could not be checked).',
    enum: VERIFY_CODES,
  })
  code!: VerifyCode;
  @ApiProperty({ type: 'string', nullable: true })
  keyId!: string | null;
  @ApiProperty({ type: 'string', nullable: true })
  name!: string | null;
  @ApiPropertyOptional({
    type: () => VerifyRemainingDto,
    description: 'Only for a key with limits: what is left of them after this use.',
  })
  remaining?: VerifyRemainingDto;
  @ApiPropertyOptional({ description: 'Seconds until a refused key may try again (when known).' })
  retryAfterSeconds?: number;
}

export class MeDto {
  id!: string;
  name!: string;
  isMaster!: boolean;
  isActive!: boolean;
  createdAt!: Date;
  lastUsedAt!: Date | null;
  usageCount!: number;
  volume!: number;
  /** Bytes of the response bodies sent back for the key's requests. */
  volumeOut!: number;
  rateLimit?: RateLimitViewDto;
  quota?: QuotaViewDto;
}

export class MeResponseDto {
  success!: true;
  key!: MeDto;
}
