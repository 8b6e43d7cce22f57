import { Global, Module } from '@nestjs/common';
import { DatabaseDriver } from './database-driver';
import { PrismaService } from './prisma.service';

@Global()
@Module({ providers: [PrismaService, DatabaseDriver], exports: [PrismaService, DatabaseDriver] })
export class PrismaModule {}
