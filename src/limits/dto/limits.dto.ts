import { applyDecorators, BadRequestException } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsObject, IsOptional, Max, Min, ValidateNested } from 'class-validator';
import { IsOptionalNotNull } from '../../common/dto/optional';
import { type LimitInput, limitChanges, LimitsError, type LimitSet } from '../limits';
import { QUOTA_PERIODS, type QuotaPeriod } from '../periods';

/** Bounds of a limit: the ring of an exact window holds 8 bytes per unit of its limit. */
export const MAX_RATE_LIMIT = 100_000;
export const MAX_RATE_WINDOW_SECONDS = 86_400;
export const MAX_QUOTA_REQUESTS = 1e12;
export const MAX_QUOTA_VOLUME = 2 ** 50;

export class RateLimitDto {
  /** @example 1000 */
  @Max(MAX_RATE_LIMIT, { message: `must be at most ${MAX_RATE_LIMIT}` })
  @Min(1, { message: 'must be at least 1' })
  @IsInt({ message: 'must be a whole number of requests' })
  limit!: number;

  /** @example 60 */
  @Max(MAX_RATE_WINDOW_SECONDS, {
    message: `must be at most ${MAX_RATE_WINDOW_SECONDS} (a day)`,
  })
  @Min(1, { message: 'must be at least 1' })
  @IsInt({ message: 'must be a whole number of seconds' })
  windowSeconds!: number;
}

export class QuotaDto {
  /** Requests per period. At least one of requests and volumeBytes. @example 1000000 */
  @IsOptionalNotNull()
  @Max(MAX_QUOTA_REQUESTS, { message: `must be at most ${MAX_QUOTA_REQUESTS}` })
  @Min(1, { message: 'must be at least 1' })
  @IsInt({ message: 'must be a whole number of requests' })
  requests?: number;

  /** Bytes of request bodies per period. @example 53687091200 */
  @IsOptionalNotNull()
  @Max(MAX_QUOTA_VOLUME, { message: `must be at most ${MAX_QUOTA_VOLUME}` })
  @Min(1, { message: 'must be at least 1' })
  @IsInt({ message: 'must be a whole number of bytes' })
  volumeBytes?: number;

  @ApiProperty({ enum: QUOTA_PERIODS, description: 'day and month are UTC calendar ones.' })
  @IsIn(QUOTA_PERIODS, { message: `must be one of ${QUOTA_PERIODS.join(', ')}` })
  period!: QuotaPeriod;
}

/** The optional `rateLimit` and `quota` of a key or of the account's defaults; null removes. */
export const IsRateLimit = () =>
  applyDecorators(
    ApiPropertyOptional({ type: RateLimitDto, nullable: true }),
    IsOptional(),
    ValidateNested(),
    // Decorators run bottom-up: an array (whose elements ValidateNested would check) is refused.
    IsObject({ message: 'rateLimit must be an object, or null to remove it' }),
    Type(() => RateLimitDto),
  );

export const IsQuota = () =>
  applyDecorators(
    ApiPropertyOptional({ type: QuotaDto, nullable: true }),
    IsOptional(),
    ValidateNested(),
    // Decorators run bottom-up: an array (whose elements ValidateNested would check) is refused.
    IsObject({ message: 'quota must be an object, or null to remove it' }),
    Type(() => QuotaDto),
  );

export class LimitsDto {
  @IsRateLimit()
  rateLimit?: RateLimitDto | null;

  @IsQuota()
  quota?: QuotaDto | null;
}

export class AccountLimitsResponseDto {
  success!: true;
  @ApiProperty({ type: RateLimitDto, nullable: true })
  rateLimit!: RateLimitDto | null;
  @ApiProperty({ type: QuotaDto, nullable: true })
  quota!: QuotaDto | null;
}

/** The limits a body sends, or the 400 that says what to fix (a quota that limits nothing). */
export function requestedLimits(input: LimitInput): Partial<LimitSet> {
  try {
    return limitChanges(input);
  } catch (error) {
    if (error instanceof LimitsError) throw new BadRequestException(error.message);
    throw error;
  }
}
