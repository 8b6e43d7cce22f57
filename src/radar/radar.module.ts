import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { KeysModule } from '../keys/keys.module';
import { RadarController } from './radar.controller';
import { RadarService } from './radar.service';

@Module({
  imports: [AuthModule, KeysModule],
  controllers: [RadarController],
  providers: [RadarService],
})
export class RadarModule {}
