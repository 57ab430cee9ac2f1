/**
 * Memory readings after a full garbage collection, so growth reflects what is retained, not
 * garbage not yet collected. gc is exposed at run time (jest gives no way to pass --expose-gc).
 */
import v8 from 'node:v8';
import vm from 'node:vm';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

export interface MemoryReading {
  readonly rssMiB: number;
  readonly heapUsedMiB: number;
  /** Memory of Buffers and other objects outside the V8 heap (socket data waiting to be sent). */
  readonly externalMiB: number;
}

const MiB = 1024 * 1024;

export async function settledMemory(): Promise<MemoryReading> {
  // Two rounds with a turn of the event loop between: finalizers and closed sockets release late.
  for (let i = 0; i < 2; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 50));
  }
  gc();
  const m = process.memoryUsage();
  return {
    rssMiB: round(m.rss / MiB),
    heapUsedMiB: round(m.heapUsed / MiB),
    externalMiB: round(m.external / MiB),
  };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
