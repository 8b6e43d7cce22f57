import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { AccessGate } from '../access/access-gate';
import { APP_CONFIG, AppConfig } from '../config/config';
import { MetricsService } from '../metrics/metrics.service';
import { UsageMeter } from '../usage/usage-meter.service';
import { ActiveExchanges } from './active-exchanges';
import { GatewayMetrics } from './gateway-metrics';
import { GatewayProxy } from './gateway-proxy';

/**
 * How long shutdown lets gateway exchanges in flight run on (at most GATEWAY_TIMEOUT_MS): well
 * inside the 30 s a supervisor such as Kubernetes gives before SIGKILL, so the meter's last
 * write still happens. Exchanges still running then are cut off, and recorded as such.
 */
const DRAIN_GRACE_MS = 10_000;

/**
 * Gateway mode's own HTTP server, on GATEWAY_PORT beside keymeter's API on PORT: one process,
 * one key cache, one metering buffer. Started when the application boots (a port that is taken
 * stops the start), stopped before the meter's last flush: no new exchanges, those in flight
 * finish (for up to 10 s) and record their use, then the meter drains.
 */
@Injectable()
export class GatewayServer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Gateway');
  private readonly active = new ActiveExchanges();
  private server: http.Server | null = null;
  private proxy: GatewayProxy | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly gate: AccessGate,
    private readonly meter: UsageMeter,
    private readonly metrics: MetricsService,
  ) {}

  /** The port the gateway listens on (GATEWAY_PORT, or the one given for 0); null when off. */
  get port(): number | null {
    const address = this.server?.address();
    return address && typeof address === 'object' ? (address as AddressInfo).port : null;
  }

  /** Exchanges in flight (tests read it to see that nothing is left behind). */
  get inFlight(): number {
    return this.active.size;
  }

  async onApplicationBootstrap(): Promise<void> {
    const gateway = this.config.gateway;
    if (!gateway) return;
    const proxy = new GatewayProxy(
      gateway,
      this.gate,
      this.meter,
      new GatewayMetrics(this.metrics, gateway.upstream.host),
      this.active,
    );
    const server = http.createServer(proxy.handle);
    server.on('checkContinue', proxy.handle);
    server.on('upgrade', proxy.upgrade);
    server.headersTimeout = this.config.headersTimeoutMs;
    server.keepAliveTimeout = this.config.keepAliveTimeoutMs;
    // Bodies stream for as long as they take (a 1 GB upload); only headers are timed.
    server.requestTimeout = 0;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(gateway.port, this.config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.proxy = proxy;
    this.logger.log(
      `gateway listening on http://${this.config.host}:${this.port} → ${gateway.upstream.href}`,
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    const { server, proxy } = this;
    if (!server || !proxy) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await this.active.drain(Math.min(this.config.gateway!.timeoutMs, DRAIN_GRACE_MS), () =>
      server.closeAllConnections(),
    );
    server.closeAllConnections();
    await closed;
    proxy.close();
  }
}
