import { Transform } from 'class-transformer';
import { trimNfkc } from '../../common/dto/transforms';
import { IsEmail, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../passwords';

export class CredentialsDto {
  /** @example user@example.com */
  // Validators run bottom-up, and only the first failure is reported: type checks go last.
  // In NFKC form, as it will be compared: fullwidth and other look-alikes become what they
  // look like, and the account they name (if any) is found.
  @Transform(trimNfkc)
  @MaxLength(254)
  @IsEmail({}, { message: 'email must be a valid email address' })
  @Matches(/^[^\p{Cs}]*$/u, { message: 'email must be a valid email address' })
  // Controls, and invisible characters such as U+200B or U+FEFF.
  @Matches(/^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]*$/u, {
    message: 'email must not contain control or invisible characters (such as U+200B)',
  })
  @IsString({ message: 'email must be a valid email address' })
  email!: string;

  /** @example correct horse battery staple */
  @MaxLength(PASSWORD_MAX_LENGTH)
  @MinLength(PASSWORD_MIN_LENGTH)
  @IsString()
  password!: string;
}

export class RegisterDto extends CredentialsDto {}

export class RegisteredKeyDto {
  /** The master key. It is shown in full here; store it safely. */
  apiKey!: string;
  /** The key's id (uuid). */
  id!: string;
  name!: string;
  isMaster!: boolean;
  createdAt!: Date;
  account!: RegisteredAccountDto;
}

export class RegisteredAccountDto {
  id!: string;
  email!: string;
  createdAt!: Date;
}

export class RegisterResponseDto {
  success!: true;
  data!: RegisteredKeyDto;
}
