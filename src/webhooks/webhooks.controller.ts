import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { MasterKey } from '../access/access.decorator';
import type { Principal } from '../access/principal';
import { AuthPrincipal } from '../access/principal.decorator';
import { type Actor, RequestActor } from '../audit/actor';
import { SuccessDto } from '../common/dto/success.dto';
import {
  CreateWebhookDto,
  DeliveryPageDto,
  DeliveryQueryDto,
  UpdateWebhookDto,
  WebhookCreatedDto,
  WebhookListDto,
  WebhookResponseDto,
  WebhookSecretDto,
  WebhookTestDto,
} from './dto/webhook.dto';
import { WebhooksService } from './webhooks.service';

const ID = ApiParam({ name: 'id', description: "The endpoint's id. Other accounts' are 404." });

/** Webhook endpoints: where the account's events are POSTed, signed (Standard Webhooks). */
@ApiTags('webhooks')
@Controller('1.0/webhooks')
@MasterKey()
@ApiBadRequestResponse({
  description: 'A missing or invalid field; a URL that is not https or reaches a private address.',
})
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  /** Adds an endpoint. The answer holds its signing secret, shown this once. */
  @Post()
  @HttpCode(200)
  @ApiOkResponse({ type: WebhookCreatedDto })
  @ApiConflictResponse({ description: 'The account already has 20 endpoints.' })
  async create(
    @RequestActor() actor: Actor,
    @Body() body: CreateWebhookDto,
  ): Promise<WebhookCreatedDto> {
    const { view, secret } = await this.webhooks.create(actor, body);
    return { success: true, ...view, secret };
  }

  /** The account's endpoints, oldest first (secrets are never shown again). */
  @Get()
  @ApiOkResponse({ type: WebhookListDto })
  async list(@AuthPrincipal() principal: Principal): Promise<WebhookListDto> {
    return { success: true, webhooks: await this.webhooks.list(principal.accountId) };
  }

  @Get(':id')
  @ID
  @ApiOkResponse({ type: WebhookResponseDto })
  @ApiNotFoundResponse({ description: 'No such endpoint in this account.' })
  async get(
    @AuthPrincipal() principal: Principal,
    @Param('id') id: string,
  ): Promise<WebhookResponseDto> {
    return { success: true, ...(await this.webhooks.get(principal.accountId, id)) };
  }

  /** Changes the URL, events, description, or enabled (enabling clears the failure record). */
  @Patch(':id')
  @ID
  @ApiOkResponse({ type: WebhookResponseDto })
  @ApiNotFoundResponse({ description: 'No such endpoint in this account.' })
  async update(
    @RequestActor() actor: Actor,
    @Param('id') id: string,
    @Body() body: UpdateWebhookDto,
  ): Promise<WebhookResponseDto> {
    return { success: true, ...(await this.webhooks.update(actor, id, body)) };
  }

  /** Deletes an endpoint and its deliveries. */
  @Delete(':id')
  @ID
  @ApiOkResponse({ type: SuccessDto })
  @ApiNotFoundResponse({ description: 'No such endpoint in this account.' })
  async remove(@RequestActor() actor: Actor, @Param('id') id: string): Promise<SuccessDto> {
    await this.webhooks.delete(actor, id);
    return { success: true };
  }

  /**
   * A new signing secret, shown this once. For 24 h the previous one signs too: every delivery
   * carries both signatures, so receivers can switch at their pace.
   */
  @Post(':id/rotate-secret')
  @HttpCode(200)
  @ID
  @ApiOkResponse({ type: WebhookSecretDto })
  @ApiNotFoundResponse({ description: 'No such endpoint in this account.' })
  async rotate(@RequestActor() actor: Actor, @Param('id') id: string): Promise<WebhookSecretDto> {
    return { success: true, ...(await this.webhooks.rotate(actor, id)) };
  }

  /** Sends a webhook.test event to this endpoint only. */
  @Post(':id/test')
  @HttpCode(200)
  @ID
  @ApiOkResponse({ type: WebhookTestDto })
  @ApiNotFoundResponse({ description: 'No such endpoint in this account.' })
  @ApiConflictResponse({ description: 'The endpoint is disabled.' })
  async test(
    @AuthPrincipal() principal: Principal,
    @Param('id') id: string,
  ): Promise<WebhookTestDto> {
    return { success: true, eventId: await this.webhooks.test(principal.accountId, id) };
  }

  /** The endpoint's deliveries, newest first, one page at a time (`nextCursor`). */
  @Get(':id/deliveries')
  @ID
  @ApiOkResponse({ type: DeliveryPageDto })
  @ApiNotFoundResponse({ description: 'No such endpoint in this account.' })
  async deliveries(
    @AuthPrincipal() principal: Principal,
    @Param('id') id: string,
    @Query() query: DeliveryQueryDto,
  ): Promise<DeliveryPageDto> {
    return { success: true, ...(await this.webhooks.deliveries(principal.accountId, id, query)) };
  }

  /** Makes a delivery due now: a failed one becomes pending again, a delivered one is sent again. */
  @Post(':id/deliveries/:deliveryId/retry')
  @HttpCode(200)
  @ID
  @ApiParam({ name: 'deliveryId', description: "The delivery's id." })
  @ApiOkResponse({ type: SuccessDto })
  @ApiNotFoundResponse({ description: 'No such endpoint, or no such delivery of it.' })
  @ApiConflictResponse({ description: 'The endpoint is disabled.' })
  async retry(
    @AuthPrincipal() principal: Principal,
    @Param('id') id: string,
    @Param('deliveryId') deliveryId: string,
  ): Promise<SuccessDto> {
    await this.webhooks.retry(principal.accountId, id, deliveryId);
    return { success: true };
  }
}
