import {
  Body,
  Controller,
  Delete,
  ForbiddenException,
  Get,
  Headers,
  HttpCode,
  Post,
  Req,
  Res,
} from '@nestjs/common';
import {
  ApiForbiddenResponse,
  ApiOkResponse,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Public } from '../access/public.decorator';
import { SignedIn } from '../access/access.decorator';
import { type Actor, originOf, RequestActor } from '../audit/actor';
import { SuccessDto } from '../common/dto/success.dto';
import { SessionResponseDto, SignInDto } from './dto/session.dto';
import type { SessionPrincipal } from '../access/principal';
import { AuthPrincipal } from '../access/principal.decorator';
import { clearSessionCookie, sessionTokenOf, setSessionCookie } from './session-cookie';
import { SessionsService } from './sessions.service';

/**
 * The dashboard's sign-in. The session travels in the `keymeter_session` cookie (httpOnly,
 * SameSite=Strict, Secure over HTTPS) and stands in for the master key on the /1.0/keys routes
 * without being metered; state-changing requests made with it need the `x-csrf-token` header.
 */
@ApiTags('dashboard session')
@Controller('api/v1/auth/session')
export class SessionController {
  constructor(private readonly sessions: SessionsService) {}

  /**
   * Signs in with email and password and sets the session cookie. Failed attempts are throttled
   * like every password check (429 with Retry-After).
   */
  @Public()
  @Post()
  @HttpCode(200)
  @ApiOkResponse({ type: SessionResponseDto })
  @ApiUnauthorizedResponse({ description: 'Wrong email or password.' })
  @ApiForbiddenResponse({ description: 'A sign-in posted from another site.' })
  @ApiTooManyRequestsResponse({ description: 'Too many failed attempts; see Retry-After.' })
  async signIn(
    @Body() body: SignInDto,
    @Headers('sec-fetch-site') fetchSite: string | undefined,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<SessionResponseDto> {
    // Login CSRF: a page elsewhere must not sign the browser in to the attacker's account. A
    // cross-site form cannot send JSON (the only body read here); browsers also say where a
    // request comes from, and a sibling subdomain ("same-site") is refused as well.
    if (fetchSite !== undefined && fetchSite !== 'same-origin' && fetchSite !== 'none') {
      throw new ForbiddenException('sign in from the keymeter page itself');
    }
    const { token, view } = await this.sessions.signIn(
      body.email,
      body.password,
      originOf(req),
      sessionTokenOf(req),
    );
    setSessionCookie(req, res, token, this.sessions.ttlMs);
    return { success: true, data: view };
  }

  /** The signed-in account, when the session ends, and the session's CSRF token. */
  @Get()
  @SignedIn()
  @ApiOkResponse({ type: SessionResponseDto })
  whoAmI(
    @AuthPrincipal() principal: SessionPrincipal,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): SessionResponseDto {
    // The page reads this on every load: never from a cache.
    res.setHeader('Cache-Control', 'no-store');
    // @SignedIn() let the request through, so the cookie holds a well-formed live token.
    const token = sessionTokenOf(req) as string;
    return { success: true, data: this.sessions.view(token, principal) };
  }

  /** Signs out: the session ends on the server and the cookie is cleared. */
  @Delete()
  @SignedIn()
  @ApiOkResponse({ type: SuccessDto })
  async signOut(
    @RequestActor() actor: Actor,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<SuccessDto> {
    await this.sessions.signOut(actor, sessionTokenOf(req));
    clearSessionCookie(req, res);
    return { success: true };
  }
}
