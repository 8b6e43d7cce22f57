import Module from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

/**
 * Which better-sqlite3 this Node can run safely.
 *
 * better-sqlite3 up to 12 wraps its objects with node::ObjectWrap, whose destructor on Node 24
 * asserts that a JavaScript environment is current; statements collected by the GC outside one
 * abort the process ("Assertion failed: (env) != nullptr"), which is what CI's Node 24 run hit.
 * better-sqlite3 13 is a Node-API port without that problem, but needs Node 22 (on Node 20 its
 * binary crashes). Prisma's adapter pins ^11.9, so package.json installs 11 as `better-sqlite3`
 * and 13 as the optional alias `better-sqlite3-napi`, and this module picks one per process.
 */
const NAPI_BUILD = 'better-sqlite3-napi';

function pick(): string {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 22) return 'better-sqlite3';
  try {
    require.resolve(NAPI_BUILD);
    return NAPI_BUILD;
  } catch {
    return 'better-sqlite3';
  }
}

export const SQLITE_DRIVER = pick();

type Resolver = (request: string, ...rest: unknown[]) => string;
const moduleWithResolver = Module as unknown as { _resolveFilename: Resolver };

if (SQLITE_DRIVER !== 'better-sqlite3') {
  // Point every later require('better-sqlite3') (the Prisma adapter's included) at the build
  // chosen above. Imported first by the modules that open SQLite, before the adapter loads.
  const resolve = moduleWithResolver._resolveFilename;
  moduleWithResolver._resolveFilename = function (this: unknown, request, ...rest) {
    return resolve.call(this, request === 'better-sqlite3' ? SQLITE_DRIVER : request, ...rest);
  };
}

/** The better-sqlite3 Database class of the chosen build. */
export function sqliteDatabase(): typeof BetterSqlite3 {
  // A runtime choice of module name: a static import cannot express it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(SQLITE_DRIVER) as typeof BetterSqlite3;
}

/** SQLITE_BUSY and its extended codes (SQLITE_BUSY_RECOVERY, SQLITE_BUSY_TIMEOUT, ...). */
export function isSqliteBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}
