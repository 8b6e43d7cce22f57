import { Module } from '@nestjs/common';
import { AccessModule } from '../access/access.module';
import { AuditModule } from '../audit/audit.module';
import { AccountLimitsController } from './account-limits.controller';
import { AccountLimitsService } from './account-limits.service';

/** PUT /1.0/limits: the account's defaults. Above access/, whose key cache it clears. */
@Module({
  imports: [AccessModule, AuditModule],
  controllers: [AccountLimitsController],
  providers: [AccountLimitsService],
})
export class AccountLimitsModule {}
