/** What every composition root shares: the environment it reads and the system clock. */
import type { Clock } from '../ports';

export type Env = Readonly<Record<string, string | undefined>>;

export const systemClock: Clock = { now: () => new Date() };
