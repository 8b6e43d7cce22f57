import type { Server } from 'node:http';
import { INestApplication } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import helmet from 'helmet';
import {
  AllExceptionsFilter,
  bodyParserErrorHandler,
} from './common/filters/all-exceptions.filter';
import { recordBodyBytes } from './access/request-bytes';
import { SESSION_SCHEME } from './access/access.decorator';
import { SESSION_COOKIE } from './auth/session-cookie';
import { bodyShapeGuard } from './common/body-shape';
import { weakETag } from './common/etag';
import { documentErrorEnvelope } from './common/openapi';
import { requestIdMiddleware } from './common/request-id';
import { ShutdownState } from './common/shutdown';
import { validationPipe } from './common/validation';
import { APP_CONFIG, AppConfig } from './config/config';

/**
 * Cuts off clients that send too slowly (a slowloris holds a connection by trickling headers):
 * Node answers 408 and closes once the headers or the whole request take longer than allowed.
 * Node checks open connections every 30 s by default; every second here, so the limits hold
 * to within a second.
 */
function limitSlowClients(server: Server, config: AppConfig): void {
  server.headersTimeout = config.headersTimeoutMs;
  server.requestTimeout = config.requestTimeoutMs;
  server.keepAliveTimeout = config.keepAliveTimeoutMs;
  // Read when the server starts listening (setupConnectionsTracking), not only at creation.
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = 1000;
}

/**
 * Everything between "the module graph exists" and "listen": the request pipeline, errors,
 * Swagger and shutdown. main.ts and every e2e test call it, so tests run the real pipeline.
 * Create the app with `{ bodyParser: false }`: the JSON parser is registered here, with the
 * configured size limit.
 */
export function configureApp(app: NestExpressApplication): INestApplication {
  const config = app.get<AppConfig>(APP_CONFIG);
  app.disable('x-powered-by');
  limitSlowClients(app.getHttpServer() as Server, config);
  app.use(requestIdMiddleware);
  app.use(app.get(ShutdownState).middleware);
  // No upgrade-insecure-requests: over plain HTTP on a LAN address it makes browsers fetch
  // /docs and / assets over HTTPS, which keymeter does not serve (TLS ends at a proxy, if any).
  app.use(helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } }));
  // Closed unless CORS_ORIGINS names origins; never with credentials (keys travel in headers).
  if (config.corsOrigins.length > 0)
    app.enableCors({ origin: config.corsOrigins, credentials: false });
  // No cookie parser: the one cookie keymeter reads, the dashboard's session, is read from the
  // header when a session is wanted (sessionTokenOf), not parsed on every request.
  app.set('query parser', 'simple');
  // The same weak ETags as Express's default (the dashboard's page is revalidated with them),
  // computed for less: every response gets one.
  app.set('etag', weakETag);
  app.useBodyParser('json', { limit: config.bodyLimit, verify: recordBodyBytes });
  app.use(bodyParserErrorHandler);
  app.use(bodyShapeGuard);
  app.useGlobalFilters(new AllExceptionsFilter());
  app.useGlobalPipes(validationPipe());
  // useProcessExit: exit with code 0 after a clean shutdown instead of re-raising the signal.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('keymeter')
      .setDescription(
        'API keys for your customers, and every request made with them metered per minute ' +
          '(count and bytes). Optidash-compatible provisioning under /1.0, Radar-compatible ' +
          'key management under /api/v1. In gateway mode (GATEWAY_UPSTREAM, GATEWAY_PORT) ' +
          'keymeter also forwards requests on a port of its own to your API and meters them, ' +
          'with bytes out, status classes and latency in usage answers with include=traffic.',
      )
      .setVersion('1.0')
      .addBasicAuth(
        {
          type: 'http',
          scheme: 'basic',
          description: 'The key as user name, empty password (curl -u KEY:)',
        },
        'basic',
      )
      .addBearerAuth(
        { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer KEY' },
        'bearer',
      )
      .addApiKey({ type: 'apiKey', in: 'header', name: 'x-api-key' }, 'x-api-key')
      .addCookieAuth(
        SESSION_COOKIE,
        {
          type: 'apiKey',
          in: 'cookie',
          description:
            'The dashboard session (POST /api/v1/auth/session), in place of the master key and ' +
            'not metered. POST, PUT, PATCH and DELETE also need its x-csrf-token header.',
        },
        SESSION_SCHEME,
      )
      .build(),
  );
  SwaggerModule.setup('docs', app, documentErrorEnvelope(document), {
    jsonDocumentUrl: 'docs-json',
  });
  return app;
}
