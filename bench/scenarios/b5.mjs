// B5: SIGTERM half-way through a load, nothing lost. See docs/benchmarks.md.
import { interrupted } from '../lib/counts.mjs';

export default {
  id: 'B5',
  title: 'SIGTERM under load',
  targets: {
    lost_on_sigterm: { op: '==', value: 0 },
  },
  async run(ctx) {
    const { P } = ctx;
    const reps = [];
    for (let i = 0; i < P.reps; i++) reps.push(await interrupted(ctx, 'SIGTERM'));
    return {
      fields: { lost_on_sigterm: Math.max(...reps.map((r) => r.lost)) },
      details: { repetitions: reps, load_s: P.b5S, signal_after_s: P.b5S / 2 },
    };
  },
};
