import { applyDecorators } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { IsBoolean, IsString, Length, Matches } from 'class-validator';
import { IsOptionalNotNull } from '../../common/dto/optional';
import { trim } from '../../common/dto/transforms';

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

export class UpdateKeyDto {
  /** @example better name */
  @IsOptionalNotNull()
  @IsKeyName()
  name?: string;

  /** false deactivates the key (it then authenticates nothing); true activates it again. */
  @IsOptionalNotNull()
  @IsBoolean({ message: 'isActive must be true or false' })
  isActive?: boolean;
}

export class KeyCreatedDto {
  success!: true;
  /** @example my awesome key */
  name!: string;
  /** The key. Shown in full here; with KEY_STORAGE=hashed this is the only time. */
  key!: string;
}
