import { applyDecorators } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsIn,
  IsOptional,
  IsString,
  Length,
  Matches,
  MaxLength,
} from 'class-validator';
import { IsOptionalNotNull } from '../../common/dto/optional';
import { trim } from '../../common/dto/transforms';
import { WEBHOOK_EVENT_TYPES } from '../webhook-events';

const IsWebhookUrl = () =>
  applyDecorators(
    ApiProperty({ example: 'https://api.example.com/keymeter-events', format: 'uri' }),
    IsString({ message: 'url must be a string' }),
    MaxLength(2048, { message: 'url must be at most 2048 characters long' }),
  );

const IsEventList = () =>
  applyDecorators(
    ApiProperty({ enum: WEBHOOK_EVENT_TYPES, isArray: true, example: ['key.created'] }),
    IsArray({ message: 'events must be an array of event types' }),
    ArrayMinSize(1, { message: 'events must name at least one event type' }),
    ArrayMaxSize(WEBHOOK_EVENT_TYPES.length, {
      message: `events must name at most ${WEBHOOK_EVENT_TYPES.length} event types`,
    }),
    IsIn(WEBHOOK_EVENT_TYPES, {
      each: true,
      message: `events must contain only ${WEBHOOK_EVENT_TYPES.join(', ')}`,
    }),
    ArrayUnique({ message: 'events must not repeat an event type' }),
  );

const IsDescription = () =>
  applyDecorators(
    Transform(trim),
    IsString({ message: 'description must be a string' }),
    Length(0, 500, { message: 'description must be at most 500 characters long' }),
    Matches(/^[^\p{Cc}\p{Cs}]*$/u, { message: 'description must not contain control characters' }),
  );

export class CreateWebhookDto {
  /** Where events are POSTed: https (plain http only to private addresses when allowed). */
  @IsWebhookUrl()
  url!: string;

  /** The event types to receive. */
  @IsEventList()
  events!: string[];

  /** A note for the account's own use. */
  @IsOptional()
  @IsDescription()
  description?: string;
}

export class UpdateWebhookDto {
  @IsOptionalNotNull()
  @IsWebhookUrl()
  url?: string;

  @IsOptionalNotNull()
  @IsEventList()
  events?: string[];

  /** false stops deliveries (they wait); true resumes them and clears the failure record. */
  @IsOptionalNotNull()
  @IsBoolean({ message: 'enabled must be true or false' })
  enabled?: boolean;

  /** null removes it. */
  @IsOptional()
  @IsDescription()
  description?: string | null;
}

export class WebhookView {
  id!: string;
  url!: string;
  @ApiProperty({ enum: WEBHOOK_EVENT_TYPES, isArray: true })
  events!: string[];
  @ApiProperty({ type: String, nullable: true })
  description!: string | null;
  enabled!: boolean;
  /** Since when every attempt has failed (disabled after 24 h); null while healthy. */
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  failingSince!: Date | null;
  /** Until when the secret before the latest rotation also signs; null when none does. */
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  previousSecretExpiresAt!: Date | null;
  createdAt!: Date;
  updatedAt!: Date;
}

export class WebhookResponseDto extends WebhookView {
  success!: true;
}

export class WebhookCreatedDto extends WebhookResponseDto {
  /** The signing secret, shown this once (Standard Webhooks: whsec_ and base64). */
  @ApiProperty({ example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' })
  secret!: string;
}

export class WebhookListDto {
  success!: true;
  webhooks!: WebhookView[];
}

export class WebhookSecretDto {
  success!: true;
  id!: string;
  /** The new signing secret, shown this once; the previous one signs too for 24 h. */
  secret!: string;
  @ApiProperty({ type: String, format: 'date-time' })
  previousSecretExpiresAt!: Date;
}

export class WebhookTestDto {
  success!: true;
  /** The webhook.test event enqueued: its webhook-id. */
  eventId!: string;
}

export class DeliveryQueryDto {
  /** Deliveries per page, 1-100 (default 50). */
  @IsOptional()
  @Matches(/^(?:[1-9]\d?|100)$/, { message: 'limit must be a whole number from 1 to 100' })
  @IsString({ message: 'limit must be given once' })
  limit?: string;

  /** The nextCursor of the page before. */
  @IsOptional()
  @Matches(/^\d{1,16}_[0-9a-f-]{36}$/, {
    message: 'cursor must be the nextCursor of an earlier page',
  })
  @IsString({ message: 'cursor must be given once' })
  cursor?: string;
}

export class DeliveryView {
  id!: string;
  /** The event's id, sent as webhook-id: receivers de-duplicate by it. */
  eventId!: string;
  type!: string;
  @ApiProperty({ enum: ['pending', 'delivered', 'failed'] })
  status!: string;
  attempts!: number;
  @ApiProperty({ type: Number, nullable: true })
  lastResponseCode!: number | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  lastAttemptAt!: Date | null;
  /** When it is tried next; null once delivered or given up. */
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  nextAttemptAt!: Date | null;
  createdAt!: Date;
}

export class DeliveryPageDto {
  success!: true;
  /** Newest first. */
  deliveries!: DeliveryView[];
  @ApiProperty({ type: String, nullable: true })
  nextCursor!: string | null;
}
