import { bootstrap } from '../bootstrap';
import { BenchAppModule } from './bench.module';

// `npm run bench` starts this (node dist/bench/bench.main.js): keymeter plus /__bench.
bootstrap(BenchAppModule, () => console.warn('bench entry: the /__bench routes are open'));
