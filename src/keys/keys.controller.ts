import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { MasterKey } from '../auth/access.decorator';
import { AuthPrincipal } from '../auth/principal.decorator';
import type { Principal } from '../auth/principal';
import { KeyListResponseDto } from './dto/key.dto';
import { KeysService } from './keys.service';

/** The Optidash-compatible provisioning API (`/1.0/keys`), master key only. */
@ApiTags('keys (Optidash-compatible)')
@Controller('1.0/keys')
@MasterKey()
export class KeysController {
  constructor(private readonly keys: KeysService) {}

  /** The account's keys with their usage totals. */
  @Get()
  @ApiOkResponse({ type: KeyListResponseDto })
  async list(@AuthPrincipal() principal: Principal): Promise<KeyListResponseDto> {
    return { success: true, keys: await this.keys.list(principal.accountId) };
  }
}
