import { IsQuota, IsRateLimit, QuotaDto, RateLimitDto } from '../../limits/dto/limits.dto';
import { IsUUID } from 'class-validator';
import { CredentialsDto } from '../../auth/dto/register.dto';
import { IsOptionalNotNull } from '../../common/dto/optional';
import { IsExpiry, IsKeyName } from '../../keys/dto/key-name.dto';
import { KeyDto } from '../../keys/dto/key.dto';

export class GenerateKeyDto extends CredentialsDto {
  /**
   * A name unique within the account; default "API key N".
   * @example my awesome key
   */
  @IsOptionalNotNull()
  @IsKeyName()
  name?: string;

  @IsExpiry()
  expiresAt?: string | null;

  @IsRateLimit()
  rateLimit?: RateLimitDto | null;

  @IsQuota()
  quota?: QuotaDto | null;
}

export class UsageAnalyticsDto extends CredentialsDto {
  /** Only this key's statistics (its id). */
  @IsOptionalNotNull()
  @IsUUID('all', { message: 'apiKeyId must be a key id (uuid)' })
  apiKeyId?: string;
}

export class GeneratedKeyDto {
  /** The new key, shown in full this once when KEY_STORAGE=hashed. */
  apiKey!: string;
  id!: string;
  name!: string;
  createdAt!: Date;
  isActive!: boolean;
  /** Only on a key that expires. */
  expiresAt?: Date;
}

export class GenerateResponseDto {
  success!: true;
  data!: GeneratedKeyDto;
}

export class ApiKeysDto {
  apiKeys!: KeyDto[];
}

export class GetApiKeysResponseDto {
  success!: true;
  data!: ApiKeysDto;
}

class KeyHighlightDto {
  id!: string;
  name!: string;
  usageCount!: number;
  lastUsedAt!: Date | null;
}

class KeyDetailDto extends KeyHighlightDto {
  isActive!: boolean;
  createdAt!: Date;
}

export class UsageAnalyticsDataDto {
  totalApiKeys!: number;
  totalUsage!: number;
  activeApiKeys!: number;
  inactiveApiKeys!: number;
  mostUsedApiKey!: KeyHighlightDto | null;
  leastUsedApiKey!: KeyHighlightDto | null;
  averageUsagePerKey!: number;
  apiKeyDetails!: KeyDetailDto[];
}

export class UsageAnalyticsResponseDto {
  success!: true;
  data!: UsageAnalyticsDataDto;
}
