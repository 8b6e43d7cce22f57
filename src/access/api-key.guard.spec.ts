import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { HttpException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { Test } from '@nestjs/testing';
import type { Request } from 'express';
import { SESSION_COOKIE } from '../auth/session-cookie';
import { newSessionToken } from '../auth/session-token';
import { ActiveSession, SessionsService } from '../auth/sessions.service';
import { CookieSessions } from '../auth/cookie-sessions';
import { KeyVault } from '../common/crypto/key-vault.service';
import { hashKey } from '../common/crypto/key-crypto';
import { generateKey } from '../common/crypto/key-format';
import { APP_CONFIG, loadConfig } from '../config/config';
import { PrismaService } from '../prisma/prisma.service';
import { KeyUsage } from '../usage/pending-usage';
import { UsageMeter } from '../usage/usage-meter.service';
import { UsageRepository } from '../usage/usage.repository';
import { AnyKey, MasterKey, SignedIn } from './access.decorator';
import type { LimitsEnforcer } from '../limits/limits-enforcer';
import { ApiAnswers } from '../usage/api-answers';
import { AccessGate } from './access-gate';
import { ApiKeyGuard } from './api-key.guard';
import { KeyAccess, KeyAccessRepository } from './key-access.repository';
import { KeyCache } from './key-cache.service';
import type { Principal } from './principal';
import { PRINCIPAL } from './principal.decorator';
import { Public } from './public.decorator';
import { SessionAuthenticator } from './session-authenticator';

class Routes {
  @Public() open(): void {}
  @AnyKey() metered(): void {}
  @MasterKey() admin(): void {}
  @SignedIn() session(): void {}
}

/** One handler shared by two controllers, only one of which is public as a whole. */
class SharedRoutes {
  @AnyKey() list(): void {}
}
@Public()
class PublicSharedRoutes extends SharedRoutes {}
class GuardedSharedRoutes extends SharedRoutes {}

const basic = (key: string): string => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;

function stored(key: Partial<KeyAccess> = {}): KeyAccess {
  return {
    id: 'key-1',
    accountId: 'account-1',
    name: 'hot',
    isMaster: false,
    isActive: true,
    expiresAtMs: null,
    limits: null,
    ...key,
  };
}

function request(headers: Record<string, string> = {}, method = 'GET'): Request {
  return { method, headers } as unknown as Request;
}

function context(
  req: Request,
  controller: new () => object = Routes,
  handler: keyof Routes | 'list' = 'metered',
): ExecutionContextHost {
  const method = (controller.prototype as Record<string, () => void>)[handler];
  // A real (unconnected) response: the gate listens for its end to record the answer.
  const res = new ServerResponse(new IncomingMessage(new Socket()));
  return new ExecutionContextHost([req, res, () => undefined], controller as never, method);
}

const principalOf = (req: Request): Principal | undefined =>
  (req as unknown as Record<string, Principal | undefined>)[PRINCIPAL];

/** The exception the guard refuses with, thrown or rejected. */
/** The guard's refusal, which must come as a rejected promise: see `refuse` in the guard. */
async function refusal(run: () => unknown): Promise<{ status: number; message: string }> {
  let result: unknown;
  try {
    result = run();
  } catch (error) {
    throw new Error(`the guard threw instead of rejecting: ${String(error)}`);
  }
  try {
    await result;
  } catch (error) {
    if (!(error instanceof HttpException)) throw error;
    return { status: error.getStatus(), message: error.message };
  }
  throw new Error('the guard let the request through');
}

describe(ApiKeyGuard.name, () => {
  const key = generateKey('km_');
  let guard: ApiKeyGuard;
  let cache: KeyCache;
  let meter: UsageMeter;
  let reflector: Reflector;
  let findByHash: jest.Mock<Promise<KeyAccess | null>, [string]>;
  let addUsage: jest.Mock<Promise<void>, [Map<string, KeyUsage>]>;
  let findSession: jest.Mock<Promise<ActiveSession | null>, [unknown]>;
  let close: () => Promise<void>;

  async function build(env: Record<string, string> = {}): Promise<void> {
    findByHash = jest.fn<Promise<KeyAccess | null>, [string]>(() => Promise.resolve(null));
    addUsage = jest.fn<Promise<void>, [Map<string, KeyUsage>]>(() => Promise.resolve());
    findSession = jest.fn<Promise<ActiveSession | null>, [unknown]>(() => Promise.resolve(null));
    const keys: Pick<KeyAccessRepository, 'findByHash'> = { findByHash };
    const usage: Pick<UsageRepository, 'addUsage'> = { addUsage };
    const prisma: Pick<PrismaService, 'beforeDisconnect'> = { beforeDisconnect: () => undefined };
    const sessions: Pick<SessionsService, 'find' | 'csrfMatches'> = {
      find: findSession,
      csrfMatches: () => false,
    };
    const moduleRef = await Test.createTestingModule({
      providers: [
        ApiKeyGuard,
        Reflector,
        KeyVault,
        KeyCache,
        UsageMeter,
        {
          provide: AccessGate,
          inject: [KeyVault, KeyCache, UsageMeter],
          useFactory: (vault: KeyVault, keyCache: KeyCache, usageMeter: UsageMeter) =>
            new AccessGate(
              vault,
              keyCache,
              usageMeter,
              {} as LimitsEnforcer,
              new ApiAnswers(usageMeter),
            ),
        },
        { provide: SessionAuthenticator, useClass: CookieSessions },
        { provide: APP_CONFIG, useValue: loadConfig({ KEY_STORAGE: 'hashed', ...env }) },
        { provide: KeyAccessRepository, useValue: keys },
        { provide: UsageRepository, useValue: usage },
        { provide: PrismaService, useValue: prisma },
        { provide: SessionsService, useValue: sessions },
      ],
    }).compile();
    guard = moduleRef.get(ApiKeyGuard);
    cache = moduleRef.get(KeyCache);
    meter = moduleRef.get(UsageMeter);
    reflector = moduleRef.get(Reflector);
    close = () => moduleRef.close();
  }

  afterEach(() => close());

  describe('with buffered metering', () => {
    beforeEach(() => build());

    it('lets a public route through synchronously without reading the key', () => {
      const req = request({ authorization: 'Basic not*base64!' });

      expect(guard.canActivate(context(req, Routes, 'open'))).toBe(true);
      expect(principalOf(req)).toBeUndefined();
    });

    it('serves a cached key synchronously and meters the request exactly once', () => {
      cache.set(hashKey(key), stored());
      const req = request({ authorization: basic(key), 'content-length': '42' });

      expect(guard.canActivate(context(req))).toBe(true);
      expect(meter.unflushed('key-1')).toMatchObject({ count: 1, volume: 42 });
      expect(findByHash).not.toHaveBeenCalled();
      expect(principalOf(req)).toEqual({
        kind: 'key',
        accountId: 'account-1',
        keyId: 'key-1',
        keyName: 'hot',
        isMaster: false,
      });
    });

    it('skips the checksum check for a cached key, which only a real key can be', () => {
      cache.set(hashKey(key), stored());
      const isWellFormed = jest.spyOn(KeyVault.prototype, 'isWellFormed');
      try {
        expect(guard.canActivate(context(request({ 'x-api-key': key })))).toBe(true);
        expect(isWellFormed).not.toHaveBeenCalled();
      } finally {
        isWellFormed.mockRestore();
      }
    });

    it('looks up a key that is not cached, meters it once, and serves it from the cache next', async () => {
      findByHash.mockResolvedValue(stored());
      const first = guard.canActivate(context(request({ 'x-api-key': key })));

      expect(first).toBeInstanceOf(Promise);
      await expect(first).resolves.toBe(true);
      expect(findByHash).toHaveBeenCalledWith(hashKey(key));
      expect(meter.unflushed('key-1')?.count).toBe(1);

      expect(guard.canActivate(context(request({ 'x-api-key': key })))).toBe(true);
      expect(findByHash).toHaveBeenCalledTimes(1);
      expect(meter.unflushed('key-1')?.count).toBe(2);
    });

    it('refuses malformed credentials with their 401 before any lookup, alike every time', async () => {
      const cases: [Record<string, string>, string][] = [
        [{}, 'an API key is required'],
        [{ authorization: 'Digest abc' }, 'unsupported Authorization scheme'],
        [{ authorization: basic(`${key.slice(0, -1)}!`) }, 'malformed or its checksum is wrong'],
        [{ authorization: basic(key.slice(0, -2)) }, 'malformed or its checksum is wrong'],
        [{ authorization: basic(`xx_${key.slice(3)}`) }, 'malformed or its checksum is wrong'],
      ];
      for (const [headers, message] of cases) {
        for (let attempt = 0; attempt < 2; attempt++) {
          const req = request(headers);
          const refused = await refusal(() => guard.canActivate(context(req)));

          expect(refused.status).toBe(401);
          expect(refused.message).toContain(message);
          expect(principalOf(req)).toBeUndefined();
        }
      }
      expect(findByHash).not.toHaveBeenCalled();
      expect(meter.pendingBuckets).toBe(0);
    });

    it('refuses unknown, deactivated and non-master keys without metering them', async () => {
      const refusedWith = (headers: Record<string, string>, route: keyof Routes = 'metered') =>
        refusal(() => guard.canActivate(context(request(headers), Routes, route)));

      await expect(refusedWith({ authorization: basic(key) })).resolves.toEqual({
        status: 401,
        message: 'the API key is not valid',
      });
      cache.set(hashKey(key), stored({ isActive: false }));
      await expect(refusedWith({ authorization: basic(key) })).resolves.toEqual({
        status: 401,
        message: 'the API key is deactivated',
      });
      cache.set(hashKey(key), stored());
      await expect(refusedWith({ authorization: basic(key) }, 'admin')).resolves.toEqual({
        status: 403,
        message: 'this route needs the account master key',
      });
      expect(meter.pendingBuckets).toBe(0);
    });

    it('reads the route decorators once per route, per controller', () => {
      cache.set(hashKey(key), stored());
      const reads = jest.spyOn(reflector, 'getAllAndOverride');
      for (let i = 0; i < 3; i++)
        guard.canActivate(context(request({ authorization: basic(key) })));

      // @Public(), then the access rule: two reads for the route, none for the repeats.
      expect(reads).toHaveBeenCalledTimes(2);
    });

    it('keeps the rule of each controller when two share a handler', async () => {
      const req = request();

      expect(guard.canActivate(context(req, PublicSharedRoutes, 'list'))).toBe(true);
      await expect(
        refusal(() => guard.canActivate(context(req, GuardedSharedRoutes, 'list'))),
      ).resolves.toMatchObject({ status: 401 });
    });

    it('accepts a live session cookie in place of the master key, unmetered', async () => {
      const token = newSessionToken();
      findSession.mockResolvedValue({
        id: 'session-1',
        accountId: 'account-1',
        email: 'owner@example.com',
        expiresAt: new Date(0),
        masterKeyId: 'master-1',
        masterKeyName: 'master',
      });
      const req = request({ cookie: `theme=dark; ${SESSION_COOKIE}=${token}` });

      await expect(guard.canActivate(context(req, Routes, 'admin'))).resolves.toBe(true);
      expect(findSession).toHaveBeenCalledWith(token);
      expect(principalOf(req)).toMatchObject({ kind: 'session', keyId: 'master-1' });
      expect(meter.pendingBuckets).toBe(0);
    });

    it('refuses a session route without a session, and a master route without key or session', async () => {
      await expect(
        refusal(() => guard.canActivate(context(request(), Routes, 'session'))),
      ).resolves.toEqual({ status: 401, message: 'sign in first' });
      await expect(
        refusal(() => guard.canActivate(context(request(), Routes, 'admin'))),
      ).resolves.toMatchObject({ status: 401, message: expect.stringMatching(/^an API key/) });
    });
  });

  describe('with strict metering (USAGE_FLUSH_INTERVAL_MS=0)', () => {
    beforeEach(() => build({ USAGE_FLUSH_INTERVAL_MS: '0' }));

    it('answers only once the use is written', async () => {
      cache.set(hashKey(key), stored());
      let written!: () => void;
      addUsage.mockImplementation(() => new Promise<void>((resolve) => (written = resolve)));
      let settled = false;
      const result = guard.canActivate(context(request({ authorization: basic(key) })));
      void Promise.resolve(result).then(() => (settled = true));
      await new Promise((resolve) => setImmediate(resolve));

      expect(addUsage).toHaveBeenCalledTimes(1);
      expect(settled).toBe(false);
      written();
      await expect(result).resolves.toBe(true);
    });
  });
});
