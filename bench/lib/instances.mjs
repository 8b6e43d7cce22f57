// Extra keymeter instances next to the shared one (S), started for the scenarios that ask for
// them (`needs`) and stopped after the last scenario of the run that names them (`needs` or
// `uses`). start(ctx) returns the handle put at ctx[name], or undefined when the instance is
// not available (then ctx[name] stays unset and the scenarios go without it).
import { PgTarget, SqliteTarget } from './db.mjs';
import { startGateway, startPlainProxy, startUpstream } from './gateway.mjs';
import { createKey, register } from './seed.mjs';
import { startReceiver } from './webhooks.mjs';

export const INSTANCES = {
  /** T: the same database as S, with USAGE_FLUSH_INTERVAL_MS=0 (every use one commit). */
  strict: {
    async start(ctx) {
      const T = ctx.server({
        name: `${ctx.kind}-strict`,
        target: ctx.target,
        env: { USAGE_FLUSH_INTERVAL_MS: '0' },
        secret: ctx.S.secret,
      });
      await T.start();
      return T;
    },
    stop: (ctx, T) => ctx.release(T),
  },

  /**
   * The same build on Node 24 (--node24-bin / --node24-repo), SQLite only, with its own
   * database and one hot key: { ...ctx.extras.node24, server, key }.
   */
  node24: {
    async start(ctx) {
      const n24 = ctx.extras.node24;
      if (ctx.kind !== 'sqlite' || !n24) return undefined;
      n24.server = ctx.server({
        name: 'sqlite-node24',
        appDir: n24.appDir,
        node: n24.bin,
        target: new SqliteTarget(ctx.runRoot, 'node24'),
      });
      try {
        await n24.server.start();
        const acct = await register(n24.server, 'n24');
        n24.key = await createKey(n24.server, acct.master, 'hot');
        return n24;
      } catch (error) {
        ctx.extras.onNode24Error(error);
        await ctx.release(n24.server);
        return undefined;
      }
    },
    stop: (ctx, n24) => ctx.release(n24.server),
  },

  /**
   * The gateway scenarios' processes: the upstream (lib/upstream-server.mjs), the plain
   * proxies in front of it (lib/plain-proxy.mjs: node:http as the gateway builds it, undici,
   * and a leaner node:http) and a keymeter on S's database with its gateway in front of the
   * upstream: { upstream, node, undici, lean, server }.
   * When keymeter's gateway does not start (a build without it), `server` is unset and
   * `error` says why, so that the scenarios fail and the run goes on.
   */
  gateway: {
    async start(ctx) {
      const upstream = await startUpstream(ctx);
      const node = await startPlainProxy(ctx, 'node', upstream);
      const undici = await startPlainProxy(ctx, 'undici', upstream);
      const lean = await startPlainProxy(ctx, 'node-lean', upstream);
      const handle = { upstream, node, undici, lean };
      try {
        handle.server = await startGateway(ctx, upstream);
      } catch (error) {
        handle.error = error;
      }
      return handle;
    },
    async stop(ctx, g) {
      if (g.server) await ctx.release(g.server);
      await Promise.all([g.node.stop(), g.undici.stop(), g.lean.stop(), g.upstream.stop()]);
    },
  },

  /**
   * The webhook scenarios' processes (W1, W2): a keymeter (W) on a database of its own with
   * WEBHOOK_ALLOW_PRIVATE_URLS=true (so endpoints may be plain http on loopback), and two
   * receivers in the benchmark process: `fast` answers 200 at once, `slow` after
   * P.webhooks.slowMs. { server, target, fast, slow }. The scenarios make their own accounts.
   */
  webhooks: {
    async start(ctx) {
      const target =
        ctx.kind === 'sqlite'
          ? new SqliteTarget(ctx.runRoot, 'webhooks')
          : await new PgTarget(ctx.opts['pg-url'], 'webhooks').create();
      const server = ctx.server({
        name: `${ctx.kind}-webhooks`,
        target,
        env: { WEBHOOK_ALLOW_PRIVATE_URLS: 'true' },
      });
      const fast = await startReceiver();
      const slow = await startReceiver({ delayMs: ctx.P.webhooks.slowMs });
      await server.start();
      return { server, target, fast, slow };
    },
    async stop(ctx, w) {
      await ctx.release(w.server);
      await Promise.all([w.fast.stop(), w.slow.stop()]);
      if (!ctx.opts.keep) await w.target.drop();
    },
  },
};
