import { Module } from '@nestjs/common';
import { AccessModule } from '../access/access.module';
import { AuditModule } from '../audit/audit.module';
import { WebhookOutboxModule } from '../webhooks/webhook-outbox.module';
import { KeyHoldersController } from './key-holders.controller';
import { KeysController } from './keys.controller';
import { KeysRepository } from './keys.repository';
import { KeysService } from './keys.service';
import { VerifyService } from './verify.service';

@Module({
  imports: [AccessModule, AuditModule, WebhookOutboxModule],
  controllers: [KeysController, KeyHoldersController],
  providers: [KeysRepository, KeysService, VerifyService],
  exports: [KeysRepository, KeysService, AccessModule],
})
export class KeysModule {}
