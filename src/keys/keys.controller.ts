import {
  applyDecorators,
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
  Type,
} from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiParam,
  ApiProduces,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { MasterKey } from '../access/access.decorator';
import { AuthPrincipal } from '../access/principal.decorator';
import type { Principal } from '../access/principal';
import { type Actor, RequestActor } from '../audit/actor';
import { KeyUsageQueryDto, UsageResponseDto } from '../usage/dto/usage.dto';
import { UsageService } from '../usage/usage.service';
import {
  CreateKeyDto,
  KeyCreatedDto,
  KeyNameDto,
  KeyRolledDto,
  RollKeyDto,
  UpdateKeyDto,
} from './dto/key-name.dto';
import { SuccessDto } from '../common/dto/success.dto';
import { KeyListResponseDto, KeyResponseDto } from './dto/key.dto';
import { MAX_PAGE } from './key-cursor';
import { KeysService } from './keys.service';

const KEY_PARAM = ApiParam({
  name: 'key',
  description: 'The API key itself, or its id (uuid). Keys of other accounts are 404.',
});

const NAME_TAKEN = ApiConflictResponse({
  description: 'A key with this name already exists in the account.',
});

/**
 * The OpenAPI of a route: its success answer, the `:key` parameter of a route on one key, and
 * the 409 of a route that names a key. Applied in the order stacked decorators would be.
 */
function Answers(ok: Type<unknown>, { onKey = false, names = false } = {}): MethodDecorator {
  return applyDecorators(
    ...(names ? [NAME_TAKEN] : []),
    ApiOkResponse({ type: ok }),
    ...(onKey ? [KEY_PARAM] : []),
  );
}

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

  /**
   * The account's keys with their usage totals, oldest first. With `limit` or `cursor` the
   * answer is one page and says where the next begins (`nextCursor`); without, it is all keys,
   * as it always was.
   */
  @Get()
  @Answers(KeyListResponseDto)
  @ApiQuery({
    name: 'limit',
    required: false,
    type: Number,
    description: `Keys per page, 1-${MAX_PAGE} (default: MAX_KEYS_PER_ACCOUNT, all of them).`,
  })
  @ApiQuery({ name: 'cursor', required: false, description: 'The nextCursor of the page before.' })
  async list(
    @RequestActor() actor: Actor,
    // Read one by one, not as a DTO: this route has always ignored other query parameters
    // (cache busters and the like), and still does.
    @Query('limit') limit?: string,
    @Query('cursor') cursor?: string,
  ): Promise<KeyListResponseDto> {
    if (limit === undefined && cursor === undefined) {
      return { success: true, keys: await this.keys.listRevealing(actor) };
    }
    const { keys, nextCursor } = await this.keys.page(actor, { limit, cursor });
    return { success: true, keys, nextCursor };
  }

  /** Adds a key, optionally expiring. The name must be unique within the account. */
  @Post()
  @HttpCode(200)
  @Answers(KeyCreatedDto, { names: true })
  async create(@RequestActor() actor: Actor, @Body() body: CreateKeyDto): Promise<KeyCreatedDto> {
    const { key, stored } = await this.keys.create(actor, body.name, body.expiresAt, body);
    return { success: true, name: stored.name, key };
  }

  /** Renames a key. */
  @Put(':key')
  @Answers(KeyCreatedDto, { onKey: true, names: true })
  async rename(
    @RequestActor() actor: Actor,
    @Param('key') ref: string,
    @Body() body: KeyNameDto,
  ): Promise<KeyCreatedDto> {
    const stored = await this.keys.update(actor, ref, { name: body.name });
    return { success: true, name: stored.name, key: this.keys.display(stored, ref) };
  }

  /**
   * Renames, deactivates or activates a key, or sets or clears (null) its expiry. The master
   * key cannot be deactivated.
   */
  @Patch(':key')
  @Answers(KeyResponseDto, { onKey: true })
  @ApiBadRequestResponse({
    description: 'Invalid fields, or an attempt to deactivate the master key.',
  })
  async update(
    @RequestActor() actor: Actor,
    @Param('key') ref: string,
    @Body() body: UpdateKeyDto,
  ): Promise<KeyResponseDto> {
    const stored = await this.keys.update(actor, ref, body);
    return { success: true, apiKey: await this.keys.viewOf(actor.accountId, stored.id) };
  }

  /**
   * Rolls a key: a new key with its name, settings and account, shown once; the old key keeps
   * working for `gracePeriodSeconds`, then is refused (EXPIRED). Usage stays with each key;
   * `GET /1.0/keys/:key?lineage=true` sums both.
   */
  @Post(':key/roll')
  @HttpCode(200)
  @Answers(KeyRolledDto, { onKey: true })
  @ApiConflictResponse({ description: 'The key was already rolled: roll its successor.' })
  async roll(
    @RequestActor() actor: Actor,
    @Param('key') ref: string,
    @Body() body: RollKeyDto,
  ): Promise<KeyRolledDto> {
    const rolled = await this.keys.roll(actor, ref, body.gracePeriodSeconds);
    return {
      success: true,
      name: rolled.stored.name,
      key: rolled.key,
      id: rolled.stored.id,
      previous: { id: rolled.previous.id, expiresAt: rolled.previousExpiresAt },
    };
  }

  /** Deletes a key and its usage. The master key cannot be deleted. */
  @Delete(':key')
  @Answers(SuccessDto, { onKey: true })
  async remove(@RequestActor() actor: Actor, @Param('key') ref: string): Promise<SuccessDto> {
    await this.keys.delete(actor, ref);
    return { success: true };
  }

  /**
   * Usage of a key per bucket (default: the last 90 days by day). Buckets are UTC-aligned
   * (ISO weeks, calendar months), ascending and zero-filled; the first holds `from` and the
   * last holds `to`; the range may span at most 92 days. `format=csv` returns CSV.
   * `lineage=true` sums the usage of every key this one was rolled from or into.
   */
  @Get(':key')
  @Answers(UsageResponseDto, { onKey: true })
  @ApiProduces('application/json', 'text/csv')
  @ApiBadRequestResponse({
    description: 'A bad from, to, interval or format, or a range over 92 days.',
  })
  async usageOf(
    @AuthPrincipal() principal: Principal,
    @Param('key') ref: string,
    @Query() query: KeyUsageQueryDto,
    @Res() res: Response,
  ): Promise<void> {
    await this.usage.respond(
      res,
      () => this.keys.usageIdsOf(principal.accountId, ref, query.lineage === 'true'),
      query,
    );
  }
}
