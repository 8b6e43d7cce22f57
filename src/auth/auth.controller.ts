import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiForbiddenResponse,
  ApiTags,
  ApiTooManyRequestsResponse,
} from '@nestjs/swagger';
import { Public } from '../access/public.decorator';
import { Origin, type RequestOrigin } from '../audit/actor';
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
  @ApiForbiddenResponse({ description: 'Registration is closed on this server (REGISTRATION).' })
  @ApiTooManyRequestsResponse({
    description: 'Too many registrations from this address; see Retry-After.',
  })
  async register(
    @Body() body: RegisterDto,
    @Origin() origin: RequestOrigin,
  ): Promise<RegisterResponseDto> {
    const { account, masterKey } = await this.accounts.register(body.email, body.password, origin);
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
