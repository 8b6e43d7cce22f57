// B6: SIGKILL half-way through a load, at most one flush interval lost. See docs/benchmarks.md.
import { interrupted } from '../lib/counts.mjs';
import { FLUSH_MS } from '../lib/options.mjs';

export default {
  id: 'B6',
  title: 'SIGKILL under load',
  targets: {
    lost_on_sigkill_max_ms: { op: '<=', value: FLUSH_MS },
  },
  async run(ctx) {
    const { P } = ctx;
    const reps = [];
    for (let i = 0; i < P.reps; i++) reps.push(await interrupted(ctx, 'SIGKILL'));
    return {
      fields: { lost_on_sigkill_max_ms: Math.max(...reps.map((r) => r.lost_ms)) },
      details: {
        flush_interval_ms: FLUSH_MS,
        repetitions: reps,
        load_s: P.b5S,
        signal_after_s: P.b5S / 2,
      },
    };
  },
};
