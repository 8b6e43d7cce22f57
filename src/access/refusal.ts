import { CREDENTIAL_ERRORS } from './credentials';

/**
 * Why a request is not let in: an HTTP status, a stable code (the envelope's and verify's) and
 * a message that says what to fix. Plain data, built once per reason: the guard, /1.0/verify
 * and any other entrance turn the same refusal into their own answer.
 */
export class Refusal {
  constructor(
    readonly status: 401 | 403 | 429 | 503,
    readonly code: string,
    readonly message: string,
    /**
     * Whether the error envelope carries `code`. Reasons added after the published envelope
     * (`{success, statusCode, error, message}`) name themselves; the first ones keep its bytes.
     */
    readonly inEnvelope = false,
  ) {}
}

export const REFUSALS = {
  noKey: new Refusal(
    401,
    'NO_KEY',
    'an API key is required: send it as Authorization: Basic (curl -u KEY:), Bearer, or x-api-key',
  ),
  malformed: new Refusal(401, 'MALFORMED', 'the API key is malformed or its checksum is wrong'),
  unknown: new Refusal(401, 'NOT_FOUND', 'the API key is not valid'),
  deactivated: new Refusal(401, 'DISABLED', 'the API key is deactivated'),
  expired: new Refusal(401, 'EXPIRED', 'the API key has expired', true),
  notMaster: new Refusal(403, 'NOT_MASTER', 'this route needs the account master key'),
} as const;

/** The refusals of a key's limits (LimitsEnforcer), by the verdict's code. */
export const LIMIT_REFUSALS = {
  RATE_LIMITED: new Refusal(
    429,
    'RATE_LIMITED',
    "the key's rate limit is reached: retry after the seconds in Retry-After",
    true,
  ),
  USAGE_EXCEEDED: new Refusal(
    429,
    'USAGE_EXCEEDED',
    "the key's quota for this period is used up (Retry-After, when sent, says when it resets)",
    true,
  ),
  QUOTA_UNAVAILABLE: new Refusal(
    503,
    'QUOTA_UNAVAILABLE',
    "the key's quota cannot be checked: the database is unavailable; retry shortly",
    true,
  ),
} as const;

/** A refusal for each reason the credential headers cannot be read. */
export const CREDENTIAL_REFUSALS: ReadonlyMap<string, Refusal> = new Map(
  Object.values(CREDENTIAL_ERRORS).map((message) => [
    message,
    new Refusal(401, 'BAD_CREDENTIALS', message),
  ]),
);
