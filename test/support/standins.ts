/**
 * Jest helpers around local/standins.ts: one set of stand-ins per test file, started in
 * beforeAll and stopped in afterAll (also when a test fails).
 */
import { type StandIns, type StandInsOptions, startStandIns } from '../../local/standins';

export type { StandIns, StandInsOptions };

/** Starts stand-ins for the enclosing describe block (or file); returns a getter. */
export function useStandIns(opts?: StandInsOptions): () => StandIns {
  let standIns: StandIns | undefined;
  beforeAll(async () => {
    standIns = await startStandIns(opts);
  }, 120_000);
  afterAll(async () => {
    await standIns?.stop();
    standIns = undefined;
  }, 30_000);
  return () => {
    if (standIns === undefined)
      throw new Error('stand-ins are not running (use the getter inside tests or hooks)');
    return standIns;
  };
}

/**
 * Runs `fn` with the given variables set in process.env (undefined deletes one), restoring the
 * previous values afterwards, for handlers that read their configuration from env.
 */
export async function withEnv<T>(
  vars: Record<string, string | undefined>,
  fn: () => T | Promise<T>,
): Promise<T> {
  const previous: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(vars)) {
    previous[key] = process.env[key];
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  try {
    return await fn();
  } finally {
    for (const [key, value] of Object.entries(previous)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}
