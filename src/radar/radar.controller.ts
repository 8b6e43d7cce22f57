import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { StoredAccount } from '../auth/accounts.repository';
import { CredentialsDto } from '../auth/dto/register.dto';
import { PasswordAccess, PasswordAccount } from '../auth/password-account';
import { Public } from '../access/public.decorator';
import { accountActor, Origin, type RequestOrigin } from '../audit/actor';
import {
  GenerateKeyDto,
  GenerateResponseDto,
  GetApiKeysResponseDto,
  UsageAnalyticsDto,
  UsageAnalyticsResponseDto,
} from './dto/radar.dto';
import { RadarService } from './radar.service';

/**
 * The Radar-compatible key API: the account's email and password in every body. Not metered:
 * these requests carry no key.
 */
@ApiTags('keys (Radar-compatible)')
@Controller('api/v1/keys')
@Public()
@ApiUnauthorizedResponse({ description: 'Wrong email or password.' })
@ApiBadRequestResponse({ description: 'A missing or invalid field; the message says which.' })
@ApiTooManyRequestsResponse({ description: 'Too many failed attempts; see Retry-After.' })
export class RadarController {
  constructor(private readonly radar: RadarService) {}

  /** Creates a key. */
  @Post('generate')
  @HttpCode(201)
  @ApiCreatedResponse({ type: GenerateResponseDto })
  @PasswordAccess(GenerateKeyDto)
  async generate(
    @Body() body: GenerateKeyDto,
    @PasswordAccount() account: StoredAccount,
    @Origin() origin: RequestOrigin,
  ): Promise<GenerateResponseDto> {
    const actor = accountActor(account.id, 'password', origin);
    return {
      success: true,
      data: await this.radar.generate(actor, body.name, body.expiresAt, body),
    };
  }

  /** The account's keys with usage counts. */
  @Post('getApiKeys')
  @HttpCode(200)
  @ApiOkResponse({ type: GetApiKeysResponseDto })
  @PasswordAccess(CredentialsDto)
  async getApiKeys(
    @Body() _credentials: CredentialsDto,
    @PasswordAccount() account: StoredAccount,
    @Origin() origin: RequestOrigin,
  ): Promise<GetApiKeysResponseDto> {
    const actor = accountActor(account.id, 'password', origin);
    return { success: true, data: { apiKeys: await this.radar.list(actor) } };
  }

  /**
   * Usage statistics over the account's keys, the master key included (its requests are
   * metered like any other key's); with `apiKeyId`, that key alone.
   */
  @Post('usageAnalytics')
  @HttpCode(200)
  @ApiOkResponse({ type: UsageAnalyticsResponseDto })
  @PasswordAccess(UsageAnalyticsDto)
  async usageAnalytics(
    @Body() body: UsageAnalyticsDto,
    @PasswordAccount() account: StoredAccount,
  ): Promise<UsageAnalyticsResponseDto> {
    return { success: true, data: await this.radar.analytics(account.id, body.apiKeyId) };
  }
}
