import {
  ArgumentsHost,
  Catch,
  ExceptionFilter,
  HttpException,
  HttpStatus,
  Logger,
} from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { databaseErrorAnswer } from '../../prisma/database-errors';
import { requestIdOf } from '../request-id';

/** The one shape of every error keymeter returns. */
export interface ErrorEnvelope {
  success: false;
  statusCode: number;
  error: string;
  message: string | string[];
  /** A stable reason, on the refusals that have one (EXPIRED); absent on all the others. */
  code?: string;
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  411: 'Length Required',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export function envelope(statusCode: number, message: string | string[]): ErrorEnvelope {
  return { success: false, statusCode, error: REASONS[statusCode] ?? 'Error', message };
}

/** The envelope of an HttpException: its status, and its message (or Nest's, reworded). */
function fromHttpException(exception: HttpException): ErrorEnvelope {
  const res = exception.getResponse();
  const message =
    typeof res === 'string'
      ? res
      : ((res as { message?: string | string[] }).message ?? exception.message);
  const body = envelope(
    exception.getStatus(),
    typeof message === 'string' ? unknownRoute(message) : message,
  );
  const code = typeof res === 'string' ? undefined : (res as { code?: unknown }).code;
  if (typeof code === 'string') body.code = code;
  return body;
}

/** Envelopes serialised once, for exceptions that are built once and thrown again and again. */
const SERIALISED = new WeakMap<HttpException, { statusCode: number; bytes: Buffer }>();

/**
 * Marks an exception that is built once and thrown on every request it refuses (the guard's
 * refusals): its envelope is serialised here, once, and the filter writes those bytes as they
 * are. A flood of bad keys is the one error path that must cost no more than a served request.
 */
export function prebuilt<E extends HttpException>(exception: E): E {
  const body = fromHttpException(exception);
  SERIALISED.set(exception, {
    statusCode: body.statusCode,
    bytes: Buffer.from(JSON.stringify(body)),
  });
  return exception;
}

/**
 * The Basic challenge tells API clients how to send a key. Browsers answer it with their own
 * password dialog, which must not pop up over the dashboard when one of its scripted requests
 * gets a 401 (wrong password, expired session): requests that say they come from a script
 * (`X-Requested-With: XMLHttpRequest`, as Spring Security and Rails use it) get a challenge
 * naming the session instead.
 */
export function challenge(request: Pick<Request, 'headers'>): string {
  return request.headers['x-requested-with'] === 'XMLHttpRequest'
    ? 'Session realm="keymeter"'
    : 'Basic realm="keymeter"';
}

/**
 * Nest's "Cannot GET /path" for an unmatched route, reworded, with any long token in the path
 * masked: a key sent to a mistyped Optidash route must not be echoed back.
 */
function unknownRoute(message: string): string {
  // Express cannot percent-decode a path parameter: its message quotes the parameter.
  if (message.startsWith('Failed to decode param')) {
    return 'the URL path is not validly percent-encoded';
  }
  const match = /^Cannot ([A-Z]+) (.*)$/.exec(message);
  if (!match) return message;
  const path = match[2].split('?')[0].replace(/[^/]{24,}/g, '…');
  return `no route matches ${match[1]} ${path}`;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Errors raised by body-parser (bad JSON, too large, bad encoding) carry their own 4xx status. */
function fromBodyParser(error: unknown): ErrorEnvelope | null {
  if (typeof error !== 'object' || error === null) return null;
  const { type, status, code, charset, encoding } = error as Record<string, unknown>;
  if (typeof status !== 'number' || status < 400 || status >= 500) return null;
  if (type === 'entity.too.large') return envelope(413, 'the request body is too large');
  if (type === 'entity.parse.failed') {
    const raw =
      typeof (error as { body?: unknown }).body === 'string'
        ? (error as { body: string }).body
        : '';
    return envelope(
      400,
      isJson(raw) ? 'the request body must be a JSON object' : 'the request body is not valid JSON',
    );
  }
  if (type === 'charset.unsupported') {
    return envelope(415, `unsupported charset "${String(charset)}"; send the body as UTF-8`);
  }
  if (type === 'encoding.unsupported') {
    return envelope(
      415,
      `unsupported Content-Encoding "${String(encoding)}"; use gzip, deflate or br`,
    );
  }
  // zlib and brotli errors carry no body-parser type, only their own code.
  if (typeof code === 'string' && /^(Z_|ERR_)/.test(code)) {
    return envelope(400, 'the request body could not be decompressed; check Content-Encoding');
  }
  if (type === 'request.aborted' || type === 'request.size.invalid') {
    return envelope(400, 'the request body ended before its declared length');
  }
  return envelope(400, 'the request body could not be read');
}

/**
 * Turns every exception into the envelope. Nest's own HttpExceptions keep their status and
 * message; a 404 for an unknown route says so; nothing unexpected leaks a stack trace.
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    // keymeter serves HTTP only; switchToHttp() would attach three new closures to the host.
    const response = host.getArgByIndex<Response>(1);
    const serialised = SERIALISED.get(exception as HttpException);
    if (serialised) {
      this.writeSerialised(response, host.getArgByIndex<Request>(0), serialised);
      return;
    }
    // Logs what is unexpected, answered or not, under the request's id.
    const body = this.toEnvelope(exception, host.getArgByIndex<Request>(0));
    // Once the headers are out (a stream that failed half-way), there is nothing left to send.
    if (response.headersSent) return;
    const retryAfter = (exception as { retryAfterSeconds?: unknown } | null)?.retryAfterSeconds;
    if (typeof retryAfter === 'number') response.setHeader('Retry-After', String(retryAfter));
    else if (body.statusCode === HttpStatus.SERVICE_UNAVAILABLE)
      response.setHeader('Retry-After', '1');
    if (body.statusCode === HttpStatus.UNAUTHORIZED) {
      response.setHeader('WWW-Authenticate', challenge(host.getArgByIndex<Request>(0)));
    }
    response.status(body.statusCode).json(body);
  }

  /** What res.json() would send for a prebuilt refusal, minus the ETag: nobody revalidates one. */
  private writeSerialised(
    response: Response,
    request: Request,
    { statusCode, bytes }: { statusCode: number; bytes: Buffer },
  ): void {
    if (response.headersSent) return;
    if (statusCode === HttpStatus.UNAUTHORIZED) {
      response.setHeader('WWW-Authenticate', challenge(request));
    }
    response.statusCode = statusCode;
    response.setHeader('Content-Type', 'application/json; charset=utf-8');
    response.setHeader('Content-Length', bytes.length);
    response.end(bytes);
  }

  private toEnvelope(exception: unknown, request: Request): ErrorEnvelope {
    if (exception instanceof HttpException) return fromHttpException(exception);
    const mapped = databaseErrorAnswer(exception);
    if (mapped) return envelope(mapped.statusCode, mapped.message);
    const id = requestIdOf(request);
    this.logger.error(
      (id ? `request ${id}: ` : '') +
        (exception instanceof Error ? (exception.stack ?? exception.message) : String(exception)),
    );
    return envelope(500, 'an unexpected error occurred; it has been logged');
  }
}

/**
 * Express error middleware placed right after the body parsers: Nest would turn their errors
 * into a bare 400 with the parser's own wording, losing 413 and 415 on the way.
 */
export function bodyParserErrorHandler(
  error: unknown,
  _req: Request,
  res: Response,
  next: NextFunction,
): void {
  const body = fromBodyParser(error);
  if (!body) return next(error);
  res.status(body.statusCode).json(body);
}
