import { Module } from '@nestjs/common';
import { UsageMeter } from './usage-meter.service';
import { UsageRepository } from './usage.repository';
import { UsageService } from './usage.service';

@Module({
  providers: [UsageRepository, UsageMeter, UsageService],
  exports: [UsageMeter, UsageService],
})
export class UsageModule {}
