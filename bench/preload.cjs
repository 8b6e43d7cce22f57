'use strict';
/**
 * Loaded with `node -r bench/preload.cjs dist/main.js` by the benchmark only; never in production.
 *
 * keymeter has no trivial route, so the benchmark adds one the same way the application declares
 * its own: a Nest controller appended to AppModule before NestFactory.create() reads it. The
 * routes run the real pipeline (helmet, metrics middleware, the global ApiKeyGuard, the error
 * filter), and differ only in the guard's decision:
 *
 *   GET  /__bench/noop      @Public()  -> {"ok":true}       (unguarded, unmetered)
 *   GET  /__bench/metered   @AnyKey()  -> {"ok":true}       (guard + cache + meter)
 *   POST /__bench/metered   @AnyKey()  -> {"ok":true}       (same, with a body: metered volume)
 *   GET  /__bench/stats     @Public()  -> {dbQueries, usagePending, cpuUs, rss, heapUsed, ...}
 *   POST /__bench/gc        @Public()  -> 204 after a full garbage collection (--expose-gc), so
 *                                         that a run does not pay for the garbage of the one before
 *
 * dbQueries counts every statement the process sends to its database: better-sqlite3's
 * Database#prepare/#exec (Prisma's SQLite adapter prepares every statement it runs) and pg's
 * Client#query (Prisma's PostgreSQL adapter and its pool go through it).
 *
 * BENCH_DIST points at the dist/ directory of the keymeter copy being run (another copy is
 * used for another Node version, because better-sqlite3 is native).
 */
const path = require('node:path');
const { createRequire } = require('node:module');

const dist = path.resolve(process.env.BENCH_DIST || path.join(__dirname, '..', 'dist'));
const load = createRequire(path.join(dist, 'main.js'));

load('reflect-metadata');

let dbQueries = 0;
function countCalls(proto, method) {
  const original = proto && proto[method];
  if (typeof original !== 'function' || original.__benchCounted) return;
  const counted = function (...args) {
    dbQueries++;
    return original.apply(this, args);
  };
  counted.__benchCounted = true;
  proto[method] = counted;
}

// The driver keymeter itself picks for this Node (sqlite-driver.js chooses the build).
const { SQLITE_DRIVER } = load(path.join(dist, 'prisma', 'sqlite-driver.js'));
const Sqlite = load(SQLITE_DRIVER);
countCalls(Sqlite.prototype, 'prepare');
countCalls(Sqlite.prototype, 'exec');
const pg = load('pg');
countCalls(pg.Client.prototype, 'query');

// Whether usage is waiting to be written, so that the benchmark can wait for a flush instead of
// sleeping a flush interval. Reads the meter's (TypeScript-private) `pending` and `flushing`;
// if they are renamed, stats() says null and the benchmark falls back to waiting.
const meters = new Set();
try {
  const { UsageMeter } = load(path.join(dist, 'usage', 'usage-meter.service.js'));
  const record = UsageMeter.prototype.record;
  UsageMeter.prototype.record = function (...args) {
    meters.add(this);
    return record.apply(this, args);
  };
} catch {
  // no meter to watch
}
function usagePending() {
  let any = false;
  for (const { pending, flushing } of meters) {
    if (!pending || typeof pending.isEmpty !== 'boolean') return null;
    any ||= !pending.isEmpty || Boolean(flushing);
  }
  return any;
}

const { Controller, Get, Post, HttpCode } = load('@nestjs/common');
const { ApiExcludeController } = load('@nestjs/swagger');
const { AppModule } = load(path.join(dist, 'app.module.js'));
const { Public } = load(path.join(dist, 'common', 'decorators', 'public.decorator.js'));
const { AnyKey } = load(path.join(dist, 'auth', 'access.decorator.js'));

class BenchController {
  noop() {
    return { ok: true };
  }

  metered() {
    return { ok: true };
  }

  meteredPost() {
    return { ok: true };
  }

  gc() {
    if (typeof global.gc === 'function') global.gc();
  }

  stats() {
    const memory = process.memoryUsage();
    const cpu = process.cpuUsage();
    return {
      dbQueries,
      usagePending: usagePending(),
      cpuUs: cpu.user + cpu.system,
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      heapTotal: memory.heapTotal,
      external: memory.external,
      arrayBuffers: memory.arrayBuffers,
      node: process.version,
      pid: process.pid,
    };
  }
}

function decorate(method, ...decorators) {
  const proto = BenchController.prototype;
  for (const decorator of decorators) {
    const descriptor = Object.getOwnPropertyDescriptor(proto, method);
    const result = decorator(proto, method, descriptor);
    if (result) Object.defineProperty(proto, method, result);
  }
}

decorate('noop', Get('noop'), Public());
decorate('metered', Get('metered'), AnyKey());
decorate('meteredPost', Post('metered'), HttpCode(200), AnyKey());
decorate('stats', Get('stats'), Public());
decorate('gc', Post('gc'), HttpCode(204), Public());
Controller('__bench')(BenchController);
ApiExcludeController()(BenchController);
Reflect.defineMetadata('design:paramtypes', [], BenchController);

const controllers = Reflect.getMetadata('controllers', AppModule) || [];
Reflect.defineMetadata('controllers', [...controllers, BenchController], AppModule);
