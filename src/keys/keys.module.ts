import { Module } from '@nestjs/common';
import { UsageModule } from '../usage/usage.module';
import { KeyCache } from './key-cache.service';
import { KeyHoldersController } from './key-holders.controller';
import { KeysController } from './keys.controller';
import { KeysRepository } from './keys.repository';
import { KeysService } from './keys.service';
import { VerifyService } from './verify.service';

@Module({
  imports: [UsageModule],
  controllers: [KeysController, KeyHoldersController],
  providers: [KeysRepository, KeysService, KeyCache, VerifyService],
  exports: [KeysRepository, KeysService, KeyCache, UsageModule],
})
export class KeysModule {}
