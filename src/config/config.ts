import path from 'node:path';
import { plainToInstance, Transform } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  validateSync,
} from 'class-validator';

/** A start-up configuration problem; the message names the variable and what to fix. */
export class ConfigError extends Error {}

const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;

/**
 * Every environment variable keymeter reads, validated once at start-up. `.env.example` and the
 * README's configuration table list the same variables.
 */
// Validators run bottom-up and only the first failure is reported, so type checks come last.
export class EnvironmentVariables {
  @IsOptional()
  @Transform(toInt)
  @Min(0)
  @Max(65535)
  @IsInt()
  PORT: number = 3000;

  @IsOptional()
  @IsString()
  HOST: string = '0.0.0.0';

  /** Unset: SQLite at data/keymeter.db. `file:PATH` or `postgresql://...` otherwise. */
  @IsOptional()
  @Matches(/^(file:.+|postgres(ql)?:\/\/.+)$/, {
    message: 'DATABASE_URL must start with file: (SQLite) or postgresql:// (PostgreSQL)',
  })
  DATABASE_URL?: string;

  /** Where the embedded SQLite file and the generated secret live. */
  @IsOptional()
  @IsString()
  DATA_DIR: string = 'data';

  /** 32 bytes as 64 hex characters or base64; generated into DATA_DIR when unset on SQLite. */
  @IsOptional()
  @Matches(/^([0-9a-fA-F]{64}|[A-Za-z0-9+/]{43}=?)$/, {
    message: 'KEYMETER_SECRET must be 32 bytes as 64 hex characters or as base64',
  })
  KEYMETER_SECRET?: string;

  /** `encrypted` keeps an AES-256-GCM ciphertext so keys can be shown again; `hashed` does not. */
  @IsOptional()
  @IsIn(['encrypted', 'hashed'])
  KEY_STORAGE: 'encrypted' | 'hashed' = 'encrypted';

  @IsOptional()
  @Matches(/^[a-z][a-z0-9]{0,9}_$/, {
    message: 'KEY_PREFIX must be 1-10 lowercase letters or digits, starting with a letter, then _',
  })
  KEY_PREFIX: string = 'km_';

  @IsOptional()
  @Transform(toInt)
  @Min(0)
  @Max(3_600_000)
  @IsInt()
  USAGE_FLUSH_INTERVAL_MS: number = 1000;

  /** The buffer flushes early once it holds this many (key, minute) buckets. */
  @IsOptional()
  @Transform(toInt)
  @Min(1)
  @Max(10_000_000)
  @IsInt()
  USAGE_MAX_PENDING_BUCKETS: number = 100_000;

  /** How long a key looked up by hash is trusted without asking the database again. */
  @IsOptional()
  @Transform(toInt)
  @Min(0)
  @Max(3_600_000)
  @IsInt()
  KEY_CACHE_TTL_MS: number = 5000;

  /**
   * The key cache's memory bound: at most this many keys (~360 bytes each on the heap) and, apart,
   * at most this many hashes remembered as unknown.
   */
  @IsOptional()
  @Transform(toInt)
  @Min(1)
  @Max(10_000_000)
  @IsInt()
  KEY_CACHE_MAX: number = 100_000;

  @IsOptional()
  @Matches(/^\d+(\.\d+)?\s*(b|kb|mb)$/i, {
    message: 'BODY_LIMIT must be a size such as 100kb or 1mb',
  })
  BODY_LIMIT: string = '1mb';

  @IsOptional()
  @IsIn(['error', 'warn', 'log', 'debug', 'verbose'])
  LOG_LEVEL: 'error' | 'warn' | 'log' | 'debug' | 'verbose' = 'log';

  /** Origins allowed to call the API from browsers (comma-separated); unset: CORS closed. */
  @IsOptional()
  @Matches(/^https?:\/\/[^,\s]+(,\s*https?:\/\/[^,\s]+)*$/, {
    message:
      'CORS_ORIGINS must be a comma-separated list of origins such as https://app.example.com',
  })
  CORS_ORIGINS?: string;

  /** Run pending migrations at start-up (default). `false` leaves it to `npm run db:migrate`. */
  @IsOptional()
  @IsIn(['true', 'false'])
  MIGRATE_ON_START: 'true' | 'false' = 'true';

  /** How long a dashboard sign-in lasts, in hours (the session cookie's lifetime). */
  @IsOptional()
  @Transform(toInt)
  @Min(1)
  @Max(720)
  @IsInt()
  SESSION_TTL_HOURS: number = 12;

  /** `closed`: POST /api/v1/auth/register is refused; accounts come from `npm run account:create`. */
  @IsOptional()
  @IsIn(['open', 'closed'])
  REGISTRATION: 'open' | 'closed' = 'open';

  /** Registrations accepted from one client address per hour (each one costs a password hash). */
  @IsOptional()
  @Transform(toInt)
  @Min(1)
  @Max(1_000_000)
  @IsInt()
  REGISTRATIONS_PER_ADDRESS_PER_HOUR: number = 20;

  /** The most keys one account may hold, the master key included. */
  @IsOptional()
  @Transform(toInt)
  @Min(1)
  @Max(1_000_000)
  @IsInt()
  MAX_KEYS_PER_ACCOUNT: number = 10_000;

  /** How long a client may take to send a request's headers before it is cut off (408). */
  @IsOptional()
  @Transform(toInt)
  @Min(1000)
  @Max(600_000)
  @IsInt()
  HEADERS_TIMEOUT_MS: number = 10_000;

  /** How long a client may take to send a whole request, body included, before it is cut off. */
  @IsOptional()
  @Transform(toInt)
  @Min(1000)
  @Max(3_600_000)
  @IsInt()
  REQUEST_TIMEOUT_MS: number = 60_000;

  /** How long an idle keep-alive connection stays open after a response (0 would never close it). */
  @IsOptional()
  @Transform(toInt)
  @Min(1000)
  @Max(600_000)
  @IsInt()
  KEEP_ALIVE_TIMEOUT_MS: number = 5000;

  /**
   * Large usage answers (over 10,000 points, e.g. 92 days of minutes) built at once; beyond,
   * they are refused with 503 and Retry-After, so that small requests keep their latency.
   */
  @IsOptional()
  @Transform(toInt)
  @Min(1)
  @Max(1000)
  @IsInt()
  LARGE_USAGE_ANSWERS_IN_FLIGHT: number = 4;

  /**
   * Gateway mode: the API keymeter proxies, as http(s)://host[:port][/base]. With GATEWAY_PORT,
   * requests to that port are checked for a key, metered and forwarded here. Unset: no gateway.
   */
  @IsOptional()
  @IsString()
  GATEWAY_UPSTREAM?: string;

  /** The gateway's own port (the upstream's paths never meet keymeter's routes on PORT). */
  @IsOptional()
  @Transform(toInt)
  @Min(0)
  @Max(65535)
  @IsInt()
  GATEWAY_PORT?: number;

  /** How long the gateway waits for the upstream's response headers before answering 504. */
  @IsOptional()
  @Transform(toInt)
  @Min(100)
  @Max(3_600_000)
  @IsInt()
  GATEWAY_TIMEOUT_MS: number = 30_000;

  /**
   * Lets webhook endpoints live on loopback and private addresses (and use plain http there):
   * for a receiver next to keymeter. Off, such URLs are refused at creation and at delivery.
   */
  @IsOptional()
  @IsIn(['true', 'false'])
  WEBHOOK_ALLOW_PRIVATE_URLS: 'true' | 'false' = 'false';

  /**
   * Days webhook events and their deliveries are kept (for the deliveries listing and retries
   * by hand), then deleted: longer than the 24 h of retries, so nothing still trying is lost.
   */
  @IsOptional()
  @Transform(toInt)
  @Min(2)
  @Max(3650)
  @IsInt()
  WEBHOOK_RETENTION_DAYS: number = 30;
}

/** Gateway mode's settings; null when it is off. */
export interface GatewayConfig {
  upstream: URL;
  port: number;
  timeoutMs: number;
}

export type DatabaseConfig =
  { provider: 'sqlite'; file: string } | { provider: 'postgresql'; url: string };

export interface AppConfig {
  port: number;
  host: string;
  database: DatabaseConfig;
  dataDir: string;
  secret?: string;
  keyStorage: 'encrypted' | 'hashed';
  keyPrefix: string;
  usageFlushIntervalMs: number;
  usageMaxPendingBuckets: number;
  keyCacheTtlMs: number;
  keyCacheMax: number;
  bodyLimit: string;
  logLevel: EnvironmentVariables['LOG_LEVEL'];
  migrateOnStart: boolean;
  sessionTtlHours: number;
  /** Browser origins allowed by CORS; empty: closed. */
  corsOrigins: string[];
  registration: 'open' | 'closed';
  registrationsPerAddressPerHour: number;
  maxKeysPerAccount: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  largeUsageAnswersInFlight: number;
  gateway: GatewayConfig | null;
  /** WEBHOOK_ALLOW_PRIVATE_URLS: webhook endpoints may be on loopback and private addresses. */
  webhookAllowPrivateUrls: boolean;
  /** WEBHOOK_RETENTION_DAYS: how long events and deliveries are kept. */
  webhookRetentionDays: number;
}

export const APP_CONFIG = Symbol('APP_CONFIG');

/** Parses and validates the environment; throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const known = Object.keys(new EnvironmentVariables());
  const raw: Record<string, string> = {};
  const optional = [
    'DATABASE_URL',
    'KEYMETER_SECRET',
    'CORS_ORIGINS',
    'GATEWAY_UPSTREAM',
    'GATEWAY_PORT',
  ];
  for (const name of [...known, ...optional]) {
    const value = env[name];
    if (value !== undefined && value !== '') raw[name] = value;
  }
  const vars = plainToInstance(EnvironmentVariables, raw);
  const errors = validateSync(vars, { skipMissingProperties: false, stopAtFirstError: true });
  if (errors.length > 0) {
    const lines = errors.map((e) => {
      const why = Object.values(e.constraints ?? {}).join('; ');
      return `${e.property}=${shown(e.property, raw[e.property] ?? '')}: ${why}`;
    });
    throw new ConfigError(`Invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  if (vars.HEADERS_TIMEOUT_MS > vars.REQUEST_TIMEOUT_MS) {
    throw new ConfigError(
      `Invalid configuration:\n  HEADERS_TIMEOUT_MS=${vars.HEADERS_TIMEOUT_MS}: must not be ` +
        `more than REQUEST_TIMEOUT_MS (${vars.REQUEST_TIMEOUT_MS})`,
    );
  }
  return {
    port: vars.PORT,
    host: vars.HOST,
    database: databaseConfig(vars.DATABASE_URL, vars.DATA_DIR),
    dataDir: vars.DATA_DIR,
    secret: vars.KEYMETER_SECRET,
    keyStorage: vars.KEY_STORAGE,
    keyPrefix: vars.KEY_PREFIX,
    usageFlushIntervalMs: vars.USAGE_FLUSH_INTERVAL_MS,
    usageMaxPendingBuckets: vars.USAGE_MAX_PENDING_BUCKETS,
    keyCacheTtlMs: vars.KEY_CACHE_TTL_MS,
    keyCacheMax: vars.KEY_CACHE_MAX,
    bodyLimit: vars.BODY_LIMIT,
    logLevel: vars.LOG_LEVEL,
    migrateOnStart: vars.MIGRATE_ON_START === 'true',
    corsOrigins: (vars.CORS_ORIGINS ?? '')
      .split(',')
      .map((origin) => origin.trim().replace(/\/$/, ''))
      .filter(Boolean),
    sessionTtlHours: vars.SESSION_TTL_HOURS,
    registration: vars.REGISTRATION,
    registrationsPerAddressPerHour: vars.REGISTRATIONS_PER_ADDRESS_PER_HOUR,
    maxKeysPerAccount: vars.MAX_KEYS_PER_ACCOUNT,
    headersTimeoutMs: vars.HEADERS_TIMEOUT_MS,
    requestTimeoutMs: vars.REQUEST_TIMEOUT_MS,
    keepAliveTimeoutMs: vars.KEEP_ALIVE_TIMEOUT_MS,
    largeUsageAnswersInFlight: vars.LARGE_USAGE_ANSWERS_IN_FLIGHT,
    gateway: gatewayConfig(vars),
    webhookAllowPrivateUrls: vars.WEBHOOK_ALLOW_PRIVATE_URLS === 'true',
    webhookRetentionDays: vars.WEBHOOK_RETENTION_DAYS,
  };
}

const invalid = (name: string, value: string | number | undefined, why: string): ConfigError =>
  new ConfigError(
    `Invalid configuration:\n  ${name}=${typeof value === 'string' ? shown(name, value) : String(value)}: ${why}`,
  );

/** GATEWAY_UPSTREAM and GATEWAY_PORT go together; the upstream is an origin and a base path. */
function gatewayConfig(vars: EnvironmentVariables): GatewayConfig | null {
  const { GATEWAY_UPSTREAM: upstream, GATEWAY_PORT: port } = vars;
  if (upstream === undefined && port === undefined) return null;
  if (upstream === undefined) {
    throw invalid(
      'GATEWAY_PORT',
      port,
      'set GATEWAY_UPSTREAM too (the API the gateway forwards to)',
    );
  }
  if (port === undefined) {
    throw invalid(
      'GATEWAY_UPSTREAM',
      upstream,
      'set GATEWAY_PORT too (the port the gateway listens on)',
    );
  }
  let url: URL;
  try {
    url = new URL(upstream);
  } catch {
    throw invalid(
      'GATEWAY_UPSTREAM',
      upstream,
      'must be a URL such as http://127.0.0.1:8081 or https://api.internal/v1',
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalid('GATEWAY_UPSTREAM', upstream, 'must start with http:// or https://');
  }
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw invalid(
      'GATEWAY_UPSTREAM',
      upstream,
      'must be an origin and an optional base path, without query, fragment or credentials',
    );
  }
  if (port !== 0 && port === vars.PORT) {
    throw invalid(
      'GATEWAY_PORT',
      port,
      `must differ from PORT (${vars.PORT}): keymeter's API listens there`,
    );
  }
  return { upstream: url, port, timeoutMs: vars.GATEWAY_TIMEOUT_MS };
}

/** A bad value as it may appear in a log: secrets hidden, credentials cut out of URLs. */
function shown(name: string, value: string): string {
  if (name === 'KEYMETER_SECRET') return `<hidden, ${value.length} characters>`;
  if (name === 'DATABASE_URL' || name === 'GATEWAY_UPSTREAM') {
    return JSON.stringify(value.replace(/\/\/[^@/]*@/, '//***@'));
  }
  return JSON.stringify(value);
}

function databaseConfig(url: string | undefined, dataDir: string): DatabaseConfig {
  if (!url) return { provider: 'sqlite', file: path.resolve(dataDir, 'keymeter.db') };
  if (url.startsWith('file:')) return { provider: 'sqlite', file: path.resolve(url.slice(5)) };
  return { provider: 'postgresql', url };
}
