import { ApiProperty } from '@nestjs/swagger';
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

export const VERIFY_CODES = ['VALID', 'NOT_FOUND', 'DISABLED', 'EXPIRED'] as const;
export type VerifyCode = (typeof VERIFY_CODES)[number];

// Every property is declared explicitly: inferred from the union type, the code's enum would be
// listed in the compiler's order of the literals, which moves as files are added.
export class VerifyResultDto {
  @ApiProperty()
  success!: true;
  @ApiProperty()
  valid!: boolean;
  @ApiProperty({
    description: "VALID, NOT_FOUND (unknown, malformed or another account's), DISABLED or EXPIRED.",
    enum: VERIFY_CODES,
  })
  code!: VerifyCode;
  @ApiProperty({ type: 'string', nullable: true })
  keyId!: string | null;
  @ApiProperty({ type: 'string', nullable: true })
  name!: string | null;
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
}

export class MeResponseDto {
  success!: true;
  key!: MeDto;
}
