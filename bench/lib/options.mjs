// The suite's command line, its two parameter sets (--quick and full) and --only.
import { parseArgs } from 'node:util';

export const FLUSH_MS = 1000; // keymeter's default USAGE_FLUSH_INTERVAL_MS, which the suite runs with
export const SETTLE_MS = FLUSH_MS + 200; // long enough for one timer flush to have written everything

export const QUICK = {
  mode: 'quick',
  connections: 50,
  warmS: 0.5,
  runS: 1.25,
  unknownS: 1,
  pairs: 3,
  b3Pairs: 10,
  b3Samples: { day: 30, minute: 10 },
  b3OtherStep: 720,
  b4Requests: 8_000,
  b5S: 2.5,
  reps: 1,
  b8Reps: 3,
  h1: { pairs: 2, seconds: 3 },
  b9: { sqlite: { requests: 4_000, keys: 2_000, budgetS: 30 }, postgresql: null },
  // L2/L3 (a quota of `quota`, `requests` sent) and L4 (`reps` paced runs): the same sizes in
  // both modes, the targets are exact counts.
  limits: { quota: 10_000, requests: 30_000, l4Reps: 1 },
  // G1-G5: G3's paced runs (s each), G4's transfer each way (1 GiB in both modes: the target is
  // on it), G5's requests over `keys` fresh keys with bodies up to maxBody and answers up to
  // maxOut bytes.
  gateway: {
    pacedS: 3,
    pacedPairs: 5,
    streamBytes: 2 ** 30,
    requests: 30_000,
    keys: 1_000,
    maxBody: 4096,
    maxOut: 16_384,
  },
  // W1 (`changes` key creations, `gapMs` apart on average) and W2 (B1's series on the webhook
  // instance, with `perSecond` key creations during every run; the slow receiver answers after
  // slowMs).
  webhooks: { changes: 50, gapMs: 100, perSecond: 5, slowMs: 2000 },
};
export const FULL = {
  mode: 'full',
  connections: 50,
  warmS: 2,
  runS: 4,
  unknownS: 3,
  pairs: 5,
  b3Pairs: 30,
  b3Samples: { day: 100, minute: 30 },
  b3OtherStep: 60,
  b4Requests: 200_000,
  b5S: 6,
  reps: 3,
  b8Reps: 5,
  h1: { pairs: 5, seconds: 8 },
  b9: {
    sqlite: { requests: 1_000_000, keys: 100_000, budgetS: 300 },
    postgresql: { requests: 1_000_000, keys: 100_000, budgetS: 90 },
  },
  limits: { quota: 10_000, requests: 30_000, l4Reps: 3 },
  gateway: {
    pacedS: 6,
    pacedPairs: 7,
    streamBytes: 2 ** 30,
    requests: 100_000,
    keys: 1_000,
    maxBody: 4096,
    maxOut: 16_384,
  },
  webhooks: { changes: 300, gapMs: 100, perSecond: 5, slowMs: 2000 },
};

const USAGE = `usage: npm run bench -- [--quick] [--json] [--only B1,B3,G1] [--db sqlite,postgresql]
  [--pg-url URL] [--node24-bin PATH --node24-repo DIR] [--profile DIR] [--out FILE] [--keep]
  [--pin auto|off] [--b9-requests N] [--b9-keys N] [--b9-budget SECONDS] [--b9-heap-mb MB]
See docs/benchmarks.md.`;

/**
 * Parses the command line (prints the usage and exits on --help). Returns the options, the
 * parameter set P (QUICK or FULL) and want(id): whether --only lets scenario `id` run.
 */
export function parseOptions(args = process.argv.slice(2)) {
  const { values: opts } = parseArgs({
    args,
    options: {
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      only: { type: 'string' },
      db: { type: 'string', default: 'sqlite,postgresql' },
      'pg-url': {
        type: 'string',
        default:
          process.env.KEYMETER_BENCH_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres',
      },
      'node24-bin': { type: 'string', default: process.env.KEYMETER_BENCH_NODE24_BIN },
      'node24-repo': { type: 'string', default: process.env.KEYMETER_BENCH_NODE24_REPO },
      'b9-requests': { type: 'string' },
      'b9-keys': { type: 'string' },
      'b9-budget': { type: 'string' },
      'b9-heap-mb': { type: 'string' },
      profile: { type: 'string' },
      out: { type: 'string' },
      keep: { type: 'boolean', default: false },
      pin: { type: 'string', default: 'auto' },
      help: { type: 'boolean', default: false },
    },
  });
  if (opts.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const P = opts.quick ? QUICK : FULL;
  const only = opts.only ? new Set(opts.only.toUpperCase().split(',')) : null;
  const want = (id) => !only || only.has(id);
  return { opts, P, only, want };
}
