import type { Benchmark } from './support/types';

export const coldStartBenchmark: Benchmark = {
  name: 'x',
  title: 'not yet',
  async run() {
    throw new Error('not yet');
  },
};
