import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiForbiddenResponse, ApiSecurity, ApiUnauthorizedResponse } from '@nestjs/swagger';
import type { Access } from './principal';

export const ACCESS = 'keymeter:access';

/** The Swagger security schemes registered in app.setup.ts; any one of them carries a key. */
const SCHEMES = ['basic', 'bearer', 'x-api-key'] as const;

function access(rule: Access, forbidden?: string) {
  return applyDecorators(
    SetMetadata(ACCESS, rule),
    ...SCHEMES.map((scheme) => ApiSecurity(scheme)),
    ApiUnauthorizedResponse({
      description: 'No key, a malformed key, or an unknown or inactive key.',
    }),
    ...(forbidden ? [ApiForbiddenResponse({ description: forbidden })] : []),
  );
}

/** Only the account's master key (the Optidash "primary" key). */
export const MasterKey = () => access('master', 'A valid key that is not the master key.');

/** Any active key of any account; the request is metered against it. */
export const AnyKey = () => access('any-key');
