import { Prisma as SqlitePrisma } from '../../prisma/generated/sqlite';
import { Prisma as PostgresPrisma } from '../../prisma/generated/postgresql';

/** What a database error means to the caller: a status and a message safe to show. */
export interface DatabaseErrorAnswer {
  statusCode: 404 | 409 | 503;
  message: string;
}

const UNAVAILABLE_ANSWER: DatabaseErrorAnswer = {
  statusCode: 503,
  message: 'the database is unavailable; try again shortly',
};

type KnownPrismaError = { code: string; meta?: Record<string, unknown> };

function isKnownPrismaError(error: unknown): error is KnownPrismaError {
  return (
    error instanceof SqlitePrisma.PrismaClientKnownRequestError ||
    error instanceof PostgresPrisma.PrismaClientKnownRequestError
  );
}

/** Prisma codes that mean "the database cannot be reached or is too busy right now". */
const UNAVAILABLE = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'P2034']);

/** Maps Prisma's request errors that callers can cause; anything else is a real 500. */
function fromPrisma(error: KnownPrismaError): DatabaseErrorAnswer | null {
  if (UNAVAILABLE.has(error.code)) return UNAVAILABLE_ANSWER;
  switch (error.code) {
    case 'P2002':
      return { statusCode: 409, message: 'a record with these values already exists' };
    case 'P2025':
      return { statusCode: 404, message: 'not found' };
    default:
      return null;
  }
}

const DRIVER_UNAVAILABLE =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|Connection terminated|terminating connection|SQLITE_BUSY|database is locked|Can't reach database/i;

/**
 * Connection failures that reach us from the drivers without a Prisma code: PostgreSQL gone
 * (ECONNREFUSED, ECONNRESET, terminated connections) or SQLite locked by another process.
 */
function fromDriver(error: unknown): DatabaseErrorAnswer | null {
  // Duck-typed, not `instanceof Error`: an error made by Node's own net module belongs to
  // another realm than code run in a vm context (as Jest runs it), and fails that check.
  if (typeof error !== 'object' || error === null) return null;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof message !== 'string') return null;
  const text = `${typeof code === 'string' ? code : ''} ${message}`;
  return DRIVER_UNAVAILABLE.test(text) ? UNAVAILABLE_ANSWER : null;
}

/**
 * The answer for an error from Prisma or from the driver, or null when it is none of those
 * that a caller can cause or wait out (a real 500, for the error filter to log).
 */
export function databaseErrorAnswer(error: unknown): DatabaseErrorAnswer | null {
  return isKnownPrismaError(error) ? fromPrisma(error) : fromDriver(error);
}
