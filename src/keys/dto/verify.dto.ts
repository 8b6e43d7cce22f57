import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';

export class VerifyKeyDto {
  /** The key a client presented to your service. */
  @IsString({ message: 'key must be a string' })
  @MaxLength(512)
  key!: string;

  /**
   * Bytes to record as the volume of this use (default 0).
   * @example 1024
   */
  @IsOptional()
  @IsInt({ message: 'volume must be a whole number of bytes' })
  @Min(0, { message: 'volume must not be negative' })
  @Max(Number.MAX_SAFE_INTEGER)
  volume?: number;
}

export const VERIFY_CODES = ['VALID', 'NOT_FOUND', 'DISABLED'] as const;

export class VerifyResultDto {
  success!: true;
  valid!: boolean;
  /** VALID, NOT_FOUND (unknown, malformed or another account's) or DISABLED. */
  code!: (typeof VERIFY_CODES)[number];
  keyId!: string | null;
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
