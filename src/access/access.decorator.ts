import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiForbiddenResponse, ApiSecurity, ApiUnauthorizedResponse } from '@nestjs/swagger';
import type { Access } from './principal';

export const ACCESS = 'keymeter:access';

/** The Swagger security schemes registered in app.setup.ts; any one of them carries a key. */
const KEY_SCHEMES = ['basic', 'bearer', 'x-api-key'] as const;
/** The dashboard's session cookie, also registered in app.setup.ts. */
export const SESSION_SCHEME = 'session';

function access(
  rule: Access,
  schemes: readonly string[],
  unauthorized: string,
  forbidden?: string,
) {
  return applyDecorators(
    SetMetadata(ACCESS, rule),
    ...schemes.map((scheme) => ApiSecurity(scheme)),
    ApiUnauthorizedResponse({ description: unauthorized }),
    ...(forbidden ? [ApiForbiddenResponse({ description: forbidden })] : []),
  );
}

const BAD_KEY = 'No key, a malformed key, or an unknown or inactive key.';
const NO_CSRF = "a state-changing request with a session but without the session's x-csrf-token";

/**
 * Only the account's master key (the Optidash "primary" key), or the dashboard's signed-in
 * session in its place (not metered).
 */
export const MasterKey = () =>
  access(
    'master',
    [...KEY_SCHEMES, SESSION_SCHEME],
    `${BAD_KEY} Or, without a key, no live session.`,
    `A valid key that is not the master key, or ${NO_CSRF}.`,
  );

/** Any active key of any account; the request is metered against it. */
export const AnyKey = () => access('any-key', KEY_SCHEMES, BAD_KEY);

/** Only a signed-in dashboard session (the session routes themselves). */
export const SignedIn = () =>
  access(
    'session',
    [SESSION_SCHEME],
    'Not signed in, or the session has expired.',
    `Refused: ${NO_CSRF}.`,
  );
