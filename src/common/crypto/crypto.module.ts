import { Global, Module } from '@nestjs/common';
import { KeyVault } from './key-vault.service';

@Global()
@Module({ providers: [KeyVault], exports: [KeyVault] })
export class CryptoModule {}
