import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { KeysModule } from '../keys/keys.module';
import { AccountsRepository } from './accounts.repository';
import { AccountsService } from './accounts.service';
import { ApiKeyGuard } from './api-key.guard';
import { AuthController } from './auth.controller';
import { SessionController } from './session.controller';
import { SessionsRepository } from './sessions.repository';
import { SessionsService } from './sessions.service';

@Module({
  imports: [KeysModule],
  controllers: [AuthController, SessionController],
  providers: [
    AccountsRepository,
    AccountsService,
    SessionsRepository,
    SessionsService,
    { provide: APP_GUARD, useClass: ApiKeyGuard },
  ],
  exports: [AccountsService],
})
export class AuthModule {}
