import type { ArgumentsHost } from '@nestjs/common';
import { runInNewContext } from 'node:vm';
import { AllExceptionsFilter } from './all-exceptions.filter';

/** What the filter wrote: status, headers and the JSON body. */
function answer(exception: unknown, { headersSent = false } = {}) {
  const headers: Record<string, unknown> = {};
  const sent: { status?: number; body?: unknown } = {};
  const logged: string[] = [];
  const response = {
    headersSent,
    setHeader(name: string, value: unknown) {
      // As Node's response does once the headers are out.
      if (headersSent) throw new Error('ERR_HTTP_HEADERS_SENT');
      headers[name.toLowerCase()] = value;
    },
    status(code: number) {
      sent.status = code;
      return this;
    },
    json: (body: unknown) => (sent.body = body),
  };
  const host = { getArgByIndex: (i: number) => (i === 0 ? { headers: {} } : response) };
  const filter = new AllExceptionsFilter();
  // The 500 path logs the error: kept here, out of the test output.
  (filter as unknown as { logger: { error: (line: string) => void } }).logger = {
    error: (line) => logged.push(line),
  };
  filter.catch(exception, host as unknown as ArgumentsHost);
  return { ...sent, headers, logged };
}

describe('AllExceptionsFilter and database errors from the drivers', () => {
  it('answers 503 with Retry-After when PostgreSQL cannot be reached', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), {
      code: 'ECONNREFUSED',
    });
    expect(answer(refused)).toEqual({
      status: 503,
      body: {
        success: false,
        statusCode: 503,
        error: 'Service Unavailable',
        message: 'the database is unavailable; try again shortly',
      },
      headers: { 'retry-after': '1' },
      logged: [],
    });
  });

  it('answers 503 for an error made in another realm, as Node makes socket errors', () => {
    const foreign: unknown = runInNewContext(
      'Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" })',
    );
    expect(foreign instanceof Error).toBe(false);
    expect(answer(foreign).status).toBe(503);
    expect(answer(runInNewContext('new Error("database is locked")')).status).toBe(503);
  });

  it('answers 500 without details for any other error', () => {
    const result = answer(runInNewContext('new Error("secret internals at /srv/app.js:1")'));
    expect(result.status).toBe(500);
    expect(result.body).toEqual({
      success: false,
      statusCode: 500,
      error: 'Internal Server Error',
      message: 'an unexpected error occurred; it has been logged',
    });
    expect(answer({ message: 42 }).status).toBe(500);
    expect(answer(null).status).toBe(500);
  });

  it('logs an error that comes after the headers went out, and writes nothing more', () => {
    const result = answer(new Error('stream broke half-way'), { headersSent: true });
    expect(result).toEqual({
      headers: {},
      logged: [expect.stringContaining('stream broke half-way')],
    });
    const unavailable = answer(Object.assign(new Error('x'), { code: 'ECONNRESET' }), {
      headersSent: true,
    });
    expect(unavailable).toEqual({ headers: {}, logged: [] });
  });
});
