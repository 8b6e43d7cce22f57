// The scenarios, in run order. A scenario is one file exporting
//
//   export default {
//     id: 'B3',                       // what --only selects and the report is keyed by
//     title: 'usage over 90 days',
//     targets: { field: { op: '<=', value: 20 } },   // one table row each (see lib/report.mjs)
//     async run(ctx) { return { fields: {...}, details: {...} }; },
//   };
//
// and one line below. Optional: covers (several ids measured together; run returns
// { results: { id: { fields, details } }, details }), skip(ctx, id) (a reason not to run on
// this database or in this mode), needs(ctx) / uses (extra instances, lib/instances.mjs),
// standalone (runs on its own servers after the shared instance is stopped).
// docs/benchmarks.md, "Adding a scenario", describes ctx.
import a1 from './a1.mjs';
import b3 from './b3.mjs';
import b4 from './b4.mjs';
import b5 from './b5.mjs';
import b6 from './b6.mjs';
import b8 from './b8.mjs';
import b8x from './b8x.mjs';
import b9 from './b9.mjs';
import g4 from './g4.mjs';
import g5 from './g5.mjs';
import gateway from './gateway.mjs';
import h1 from './h1.mjs';
import l1 from './l1.mjs';
import l2 from './l2.mjs';
import l4 from './l4.mjs';
import throughput from './throughput.mjs';
import w1 from './w1.mjs';
import w2 from './w2.mjs';

export const SCENARIOS = [
  throughput,
  a1,
  l1,
  b8,
  b4,
  b5,
  b6,
  b3,
  h1,
  gateway,
  g4,
  g5,
  b9,
  b8x,
  l2,
  l4,
  w1,
  w2,
];
