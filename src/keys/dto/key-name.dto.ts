import { applyDecorators } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { IsBoolean, IsInt, IsOptional, IsString, Length, Matches, Max, Min } from 'class-validator';
import { ApiProperty } from '@nestjs/swagger';
import { IsOptionalNotNull } from '../../common/dto/optional';
import { trim } from '../../common/dto/transforms';
import { IsQuota, IsRateLimit, QuotaDto, RateLimitDto } from '../../limits/dto/limits.dto';

/**
 * A key name: 1-100 characters after trimming, no control characters. applyDecorators registers
 * them in order and validators run in registration order, so the type check comes first.
 */
export const IsKeyName = () =>
  applyDecorators(
    Transform(trim),
    IsString({ message: 'name must be a string' }),
    Length(1, 100, { message: 'name must be 1 to 100 characters long (after trimming)' }),
    Matches(/^[^\p{Cc}\p{Cs}]*$/u, {
      message: 'name must not contain control characters or unpaired surrogates',
    }),
  );

export class KeyNameDto {
  /**
   * A name unique within the account.
   * @example my awesome key
   */
  @IsKeyName()
  name!: string;
}

/**
 * An optional expiry: an ISO-8601 instant in the future (without a zone, UTC), or null for
 * none. Its range is checked by the keys service (parseExpiry), which says what was wrong.
 */
export const IsExpiry = () =>
  applyDecorators(
    ApiProperty({
      type: String,
      format: 'date-time',
      nullable: true,
      required: false,
      description:
        'From this instant on the key is refused (401, code EXPIRED); null: it never expires.',
      example: '2030-01-31T12:00:00Z',
    }),
    IsOptional(),
    IsString({ message: 'expiresAt must be an ISO-8601 date and time, or null for no expiry' }),
  );

export class CreateKeyDto extends KeyNameDto {
  @IsExpiry()
  expiresAt?: string | null;

  /** At most `limit` requests in any `windowSeconds` (429 RATE_LIMITED beyond). */
  @IsRateLimit()
  rateLimit?: RateLimitDto | null;

  /** An allowance per day, month or ever (429 USAGE_EXCEEDED beyond). */
  @IsQuota()
  quota?: QuotaDto | null;
}

export class UpdateKeyDto {
  /** @example better name */
  @IsOptionalNotNull()
  @IsKeyName()
  name?: string;

  /** false deactivates the key (it then authenticates nothing); true activates it again. */
  @IsOptionalNotNull()
  @IsBoolean({ message: 'isActive must be true or false' })
  isActive?: boolean;

  @IsExpiry()
  expiresAt?: string | null;

  /** null removes the key's own rate limit (it then follows the account's default, if any). */
  @IsRateLimit()
  rateLimit?: RateLimitDto | null;

  /** null removes the key's own quota (it then follows the account's default, if any). */
  @IsQuota()
  quota?: QuotaDto | null;
}

export class KeyCreatedDto {
  success!: true;
  /** @example my awesome key */
  name!: string;
  /** The key. Shown in full here; with KEY_STORAGE=hashed this is the only time. */
  key!: string;
}

export class RollKeyDto {
  /**
   * How long the old key keeps working, in seconds: 0 (default, refused at once) to 2592000
   * (30 days).
   * @example 3600
   */
  @IsOptionalNotNull()
  @Max(2_592_000, { message: 'gracePeriodSeconds must be at most 2592000 (30 days)' })
  @Min(0, { message: 'gracePeriodSeconds must not be negative' })
  @IsInt({ message: 'gracePeriodSeconds must be a whole number of seconds' })
  gracePeriodSeconds?: number;
}

class PreviousKeyDto {
  id!: string;
  /** When the old key stops working (now + the grace, or its own earlier expiry). */
  expiresAt!: Date;
}

export class KeyRolledDto {
  success!: true;
  /** @example my awesome key */
  name!: string;
  /** The new key. Shown in full here; with KEY_STORAGE=hashed this is the only time. */
  key!: string;
  /** The new key's id; its usage starts at zero. */
  id!: string;
  previous!: PreviousKeyDto;
}
