import { Transform } from 'class-transformer';
import { IsEmail, IsString, MaxLength, MinLength } from 'class-validator';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../passwords';

const trim = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value);

export class CredentialsDto {
  /** @example user@example.com */
  @Transform(trim)
  @IsEmail({}, { message: 'email must be a valid email address' })
  @MaxLength(254)
  email!: string;

  /** @example correct horse battery staple */
  @IsString()
  @MinLength(PASSWORD_MIN_LENGTH)
  @MaxLength(PASSWORD_MAX_LENGTH)
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
