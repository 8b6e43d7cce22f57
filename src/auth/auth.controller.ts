import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiTags,
} from '@nestjs/swagger';
import { Public } from '../access/public.decorator';
import { AccountsService } from './accounts.service';
import { RegisterDto, RegisterResponseDto } from './dto/register.dto';

@ApiTags('accounts')
@Controller('api/v1/auth')
@ApiBadRequestResponse({
  description: 'A missing or invalid field or query parameter; the message says which.',
})
export class AuthController {
  constructor(private readonly accounts: AccountsService) {}

  /** Creates an account and returns its master key (shown this once). */
  @Public()
  @Post('register')
  @HttpCode(201)
  @ApiCreatedResponse({ type: RegisterResponseDto })
  @ApiConflictResponse({ description: 'An account with this email already exists.' })
  async register(@Body() body: RegisterDto): Promise<RegisterResponseDto> {
    const { account, masterKey } = await this.accounts.register(body.email, body.password);
    return {
      success: true,
      data: {
        apiKey: masterKey.key,
        id: masterKey.id,
        name: masterKey.name,
        isMaster: true,
        createdAt: masterKey.createdAt,
        account,
      },
    };
  }
}
