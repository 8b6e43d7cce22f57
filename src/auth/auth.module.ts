import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { KeysModule } from '../keys/keys.module';
import { AccountsRepository } from './accounts.repository';
import { AccountsService } from './accounts.service';
import { ApiKeyGuard } from './api-key.guard';
import { AuthController } from './auth.controller';

@Module({
  imports: [KeysModule],
  controllers: [AuthController],
  providers: [AccountsRepository, AccountsService, { provide: APP_GUARD, useClass: ApiKeyGuard }],
  exports: [AccountsService],
})
export class AuthModule {}
