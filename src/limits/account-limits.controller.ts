import { Body, Controller, Get, Put } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { MasterKey } from '../access/access.decorator';
import type { Principal } from '../access/principal';
import { AuthPrincipal } from '../access/principal.decorator';
import { type Actor, RequestActor } from '../audit/actor';
import { AccountLimitsService } from './account-limits.service';
import { AccountLimitsResponseDto, LimitsDto } from './dto/limits.dto';

/** The account's default limits, for its keys without limits of their own. */
@ApiTags('limits')
@Controller('1.0/limits')
@MasterKey()
export class AccountLimitsController {
  constructor(private readonly limits: AccountLimitsService) {}

  /** The defaults now in effect (null: none). */
  @Get()
  @ApiOkResponse({ type: AccountLimitsResponseDto })
  async get(@AuthPrincipal() principal: Principal): Promise<AccountLimitsResponseDto> {
    return {
      success: true,
      ...(await this.limits.get(principal.accountId)),
    } as AccountLimitsResponseDto;
  }

  /**
   * Sets the defaults: the fields sent change (null removes one), the others stay. Keys with
   * a limit of their own keep it; the master key follows no default.
   */
  @Put()
  @ApiOkResponse({ type: AccountLimitsResponseDto })
  @ApiBadRequestResponse({ description: 'A bad rateLimit or quota; the message says which.' })
  async put(
    @RequestActor() actor: Actor,
    @Body() body: LimitsDto,
  ): Promise<AccountLimitsResponseDto> {
    return { success: true, ...(await this.limits.set(actor, body)) } as AccountLimitsResponseDto;
  }
}
