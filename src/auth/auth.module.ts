import { Module } from '@nestjs/common';
import { SessionAuthenticator } from '../access/session-authenticator';
import { AuditModule } from '../audit/audit.module';
import { KeysModule } from '../keys/keys.module';
import { AccountsRepository } from './accounts.repository';
import { AccountsService } from './accounts.service';
import { AuthController } from './auth.controller';
import { CookieSessions } from './cookie-sessions';
import { SessionController } from './session.controller';
import { SessionsRepository } from './sessions.repository';
import { SessionsService } from './sessions.service';

@Module({
  imports: [KeysModule, AuditModule],
  controllers: [AuthController, SessionController],
  providers: [
    AccountsRepository,
    AccountsService,
    SessionsRepository,
    SessionsService,
    { provide: SessionAuthenticator, useClass: CookieSessions },
  ],
  exports: [AccountsService, SessionAuthenticator],
})
export class AuthModule {}
