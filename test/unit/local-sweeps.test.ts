import { platformOptionsFromEnv, startSweeps } from '../../local/platform';

/** A sweep the test finishes by hand. */
function controlledSweeps() {
  const events: { time: string }[] = [];
  const pending: (() => void)[] = [];
  const sweep = (event: { time: string }) => {
    events.push(event);
    return new Promise<void>((resolve) => pending.push(resolve));
  };
  return { sweep, events, pending };
}

describe("local mode's retry sweeps", () => {
  beforeEach(() => jest.useFakeTimers({ now: new Date('2026-12-03T12:00:00.000Z') }));
  afterEach(() => jest.useRealTimers());

  it('sweeps once per interval with the time of the run, never two at once', async () => {
    const { sweep, events, pending } = controlledSweeps();
    const sweeps = startSweeps(sweep, 60_000, () => {});
    try {
      expect(events).toHaveLength(0);
      jest.advanceTimersByTime(60_000);
      expect(events).toEqual([{ time: '2026-12-03T12:01:00.000Z' }]);
      // Still running at the next tick: skipped.
      jest.advanceTimersByTime(60_000);
      expect(events).toHaveLength(1);
      pending.shift()!();
      await Promise.resolve();
      await Promise.resolve();
      jest.advanceTimersByTime(60_000);
      expect(events.map((e) => e.time)).toEqual([
        '2026-12-03T12:01:00.000Z',
        '2026-12-03T12:03:00.000Z',
      ]);
      pending.shift()!();
    } finally {
      await sweeps.stop();
    }
  });

  it('stop() waits for a running sweep, and no sweep starts after it', async () => {
    const { sweep, events, pending } = controlledSweeps();
    const sweeps = startSweeps(sweep, 60_000, () => {});
    jest.advanceTimersByTime(60_000);
    let stopped = false;
    const stopping = sweeps.stop().then(() => {
      stopped = true;
    });
    await Promise.resolve();
    expect(stopped).toBe(false);
    pending.shift()!();
    await stopping;
    expect(stopped).toBe(true);
    jest.advanceTimersByTime(600_000);
    expect(events).toHaveLength(1);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('reports a failed sweep and goes on sweeping', async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const sweeps = startSweeps(
      async () => {
        calls++;
        throw new Error('DynamoDB Local unreachable');
      },
      1000,
      (err) => errors.push(err),
    );
    try {
      jest.advanceTimersByTime(1000);
      await jest.runOnlyPendingTimersAsync();
      expect(calls).toBe(2);
      expect(errors.map((e) => (e as Error).message)).toEqual([
        'DynamoDB Local unreachable',
        'DynamoDB Local unreachable',
      ]);
    } finally {
      await sweeps.stop();
    }
  });

  it('passes the sweeper settings through to the handlers', () => {
    const opts = platformOptionsFromEnv({
      RETRY_SWEEP_GRACE_SECONDS: '2',
      RETRY_SWEEP_INTERVAL_SECONDS: '0.5',
      RETRY_SWEEP_MAX_STARTS: '10',
    });
    expect(opts.handlerEnv).toEqual({
      RETRY_SWEEP_GRACE_SECONDS: '2',
      RETRY_SWEEP_INTERVAL_SECONDS: '0.5',
      RETRY_SWEEP_MAX_STARTS: '10',
    });
  });
});
