import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Patch,
  Post,
  Put,
  Query,
  Res,
} from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiParam,
  ApiProduces,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { MasterKey } from '../access/access.decorator';
import { AuthPrincipal } from '../access/principal.decorator';
import type { Principal } from '../access/principal';
import { UsageQueryDto, UsageResponseDto } from '../usage/dto/usage.dto';
import { UsageService } from '../usage/usage.service';
import { KeyCreatedDto, KeyNameDto, UpdateKeyDto } from './dto/key-name.dto';
import { KeyListResponseDto, KeyResponseDto, SuccessDto } from './dto/key.dto';
import { KeysService } from './keys.service';
import { sendUsage } from '../usage/usage-response';

const KEY_PARAM = ApiParam({
  name: 'key',
  description: 'The API key itself, or its id (uuid). Keys of other accounts are 404.',
});

/** The Optidash-compatible provisioning API (`/1.0/keys`), master key only. */
@ApiTags('keys (Optidash-compatible)')
@Controller('1.0/keys')
@MasterKey()
@ApiNotFoundResponse({ description: 'No such key in this account.' })
@ApiBadRequestResponse({
  description: 'A missing or invalid field or query parameter; the message says which.',
})
export class KeysController {
  constructor(
    private readonly keys: KeysService,
    private readonly usage: UsageService,
  ) {}

  /** The account's keys with their usage totals. */
  @Get()
  @ApiOkResponse({ type: KeyListResponseDto })
  async list(@AuthPrincipal() principal: Principal): Promise<KeyListResponseDto> {
    return { success: true, keys: await this.keys.list(principal.accountId) };
  }

  /** Adds a key. The name must be unique within the account. */
  @Post()
  @HttpCode(200)
  @ApiOkResponse({ type: KeyCreatedDto })
  @ApiConflictResponse({ description: 'A key with this name already exists in the account.' })
  async create(
    @AuthPrincipal() principal: Principal,
    @Body() body: KeyNameDto,
  ): Promise<KeyCreatedDto> {
    const { key, stored } = await this.keys.create(principal.accountId, body.name);
    return { success: true, name: stored.name, key };
  }

  /** Renames a key. */
  @Put(':key')
  @KEY_PARAM
  @ApiOkResponse({ type: KeyCreatedDto })
  @ApiConflictResponse({ description: 'A key with this name already exists in the account.' })
  async rename(
    @AuthPrincipal() principal: Principal,
    @Param('key') ref: string,
    @Body() body: KeyNameDto,
  ): Promise<KeyCreatedDto> {
    const stored = await this.keys.update(principal.accountId, ref, { name: body.name });
    return { success: true, name: stored.name, key: this.keys.display(stored, ref) };
  }

  /** Renames, deactivates or activates a key. The master key cannot be deactivated. */
  @Patch(':key')
  @KEY_PARAM
  @ApiOkResponse({ type: KeyResponseDto })
  @ApiBadRequestResponse({
    description: 'Invalid fields, or an attempt to deactivate the master key.',
  })
  async update(
    @AuthPrincipal() principal: Principal,
    @Param('key') ref: string,
    @Body() body: UpdateKeyDto,
  ): Promise<KeyResponseDto> {
    const stored = await this.keys.update(principal.accountId, ref, body);
    return { success: true, apiKey: await this.keys.viewOf(principal.accountId, stored.id) };
  }

  /** Deletes a key and its usage. The master key cannot be deleted. */
  @Delete(':key')
  @KEY_PARAM
  @ApiOkResponse({ type: SuccessDto })
  async remove(
    @AuthPrincipal() principal: Principal,
    @Param('key') ref: string,
  ): Promise<SuccessDto> {
    await this.keys.delete(principal.accountId, ref);
    return { success: true };
  }

  /**
   * Usage of a key per bucket (default: the last 90 days by day). Buckets are UTC-aligned
   * (ISO weeks, calendar months), ascending and zero-filled; the first holds `from` and the
   * last holds `to`; the range may span at most 92 days. `format=csv` returns CSV.
   */
  @Get(':key')
  @KEY_PARAM
  @ApiProduces('application/json', 'text/csv')
  @ApiOkResponse({ type: UsageResponseDto })
  @ApiBadRequestResponse({
    description: 'A bad from, to, interval or format, or a range over 92 days.',
  })
  async usageOf(
    @AuthPrincipal() principal: Principal,
    @Param('key') ref: string,
    @Query() query: UsageQueryDto,
    @Res() res: Response,
  ): Promise<void> {
    const range = this.usage.range(query);
    const key = await this.keys.resolve(principal.accountId, ref);
    sendUsage(res, await this.usage.series(key.id, range), query.format);
  }
}
