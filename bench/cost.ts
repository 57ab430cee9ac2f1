import type { Benchmark } from './support/types';

export const costBenchmark: Benchmark = {
  name: 'x',
  title: 'not yet',
  async run() {
    throw new Error('not yet');
  },
};
