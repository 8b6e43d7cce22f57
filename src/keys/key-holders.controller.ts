import { Body, Controller, Get, HttpCode, Post, Query, Res } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { AnyKey, MasterKey } from '../access/access.decorator';
import { AuthPrincipal } from '../access/principal.decorator';
import type { Principal } from '../access/principal';
import { UsageQueryDto, UsageResponseDto } from '../usage/dto/usage.dto';
import { UsageService } from '../usage/usage.service';
import { MeResponseDto, VerifyKeyDto, VerifyResultDto } from './dto/verify.dto';
import { KeysService } from './keys.service';
import { VerifyService } from './verify.service';

/** For key holders (their own key) and for internal services (verifying keys). */
@ApiTags('key holders and services')
@Controller('1.0')
@ApiBadRequestResponse({
  description: 'A missing or invalid field or query parameter; the message says which.',
})
export class KeyHoldersController {
  constructor(
    private readonly keys: KeysService,
    private readonly usage: UsageService,
    private readonly verifier: VerifyService,
  ) {}

  /** The calling key's own details and totals (this request included). */
  @Get('me')
  @AnyKey()
  @ApiOkResponse({ type: MeResponseDto })
  async me(@AuthPrincipal() principal: Principal): Promise<MeResponseDto> {
    const {
      key: _plaintext,
      updatedAt: _updated,
      ...key
    } = await this.keys.viewOf(principal.accountId, principal.keyId);
    return { success: true, key };
  }

  /** The calling key's own usage; same query and shape as GET /1.0/keys/:key. */
  @Get('me/usage')
  @AnyKey()
  @ApiProduces('application/json', 'text/csv')
  @ApiOkResponse({ type: UsageResponseDto })
  async myUsage(
    @AuthPrincipal() principal: Principal,
    @Query() query: UsageQueryDto,
    @Res() res: Response,
  ): Promise<void> {
    await this.usage.respond(res, principal.keyId, query);
  }

  /**
   * Checks a key for a service that sits behind keymeter, and records one use of it with the
   * given volume when it is valid. Keys of other accounts are NOT_FOUND.
   */
  @Post('verify')
  @MasterKey()
  @HttpCode(200)
  @ApiOkResponse({ type: VerifyResultDto })
  verify(
    @AuthPrincipal() principal: Principal,
    @Body() body: VerifyKeyDto,
  ): Promise<VerifyResultDto> {
    return this.verifier.verify(principal.accountId, body.key, body.volume ?? 0);
  }
}
