/**
 * Local mode as a process: a taken port, SIGTERM/SIGINT cleanup (the Java process included),
 * and state that survives restarts on the same DATA_DIR (definitions, events accepted but not
 * yet delivered, retries in flight), even after SIGKILL.
 */
import fs from 'node:fs';
import net from 'node:net';
import { freePort } from '../../local/standins';
import { eventually } from '../support/eventually';
import { failTimes, ok, type Receiver, startReceiver } from '../support/receivers';
import {
  apiClient,
  definitionFor,
  isAlive,
  javaPidsFor,
  killAllLocal,
  notificationFor,
  notificationWithStatus,
  pidsWithArg,
  spawnLocal,
  startLocal,
  tempDataDir,
} from './helpers';

jest.setTimeout(240_000);

describe('local mode lifecycle', () => {
  const dirs: string[] = [];
  const receivers: Receiver[] = [];
  const servers: net.Server[] = [];

  function dataDir(): string {
    const dir = tempDataDir();
    dirs.push(dir);
    return dir;
  }

  afterAll(async () => {
    await killAllLocal();
    await Promise.allSettled(receivers.map((r) => r.close()));
    for (const s of servers) s.close();
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('refuses a port already taken, naming it and PORT, and leaves nothing running', async () => {
    const blocker = net.createServer();
    servers.push(blocker);
    const port = await new Promise<number>((resolve) =>
      blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as net.AddressInfo).port)),
    );
    const dir = dataDir();

    const { exited, output } = spawnLocal({ PORT: String(port), DATA_DIR: dir });
    const result = await exited;

    expect(result.code).toBe(1);
    expect(output()).toContain(`Port ${port} on 127.0.0.1 is already in use`);
    expect(output()).toContain('PORT');
    expect(pidsWithArg(dir)).toEqual([]);
  });

  it('stops everything on SIGTERM and SIGINT, the Java process included, and starts again on the same port', async () => {
    const dir = dataDir();
    const first = await startLocal({ dataDir: dir });
    const [java] = javaPidsFor(dir);

    const stopped = await first.stop('SIGTERM');

    expect(java).toEqual(expect.any(Number));
    expect(stopped.code).toBe(0);
    expect(isAlive(java!)).toBe(false);
    expect(pidsWithArg(dir)).toEqual([]);

    const second = await startLocal({ dataDir: dir, port: first.port });
    const health = await fetch(`${second.url}/health`);
    const [java2] = javaPidsFor(dir);
    const stoppedAgain = await second.stop('SIGINT');

    expect(health.status).toBe(200);
    expect(stoppedAgain.code).toBe(0);
    expect(isAlive(java2!)).toBe(false);
    expect(pidsWithArg(dir)).toEqual([]);
  });

  it('keeps definitions, undelivered events and retries in flight across restarts on the same DATA_DIR', async () => {
    const dir = dataDir();
    const port = await freePort();
    const queuedTarget = await startReceiver(ok());
    const retryTarget = await startReceiver(failTimes(1, 500));
    receivers.push(queuedTarget, retryTarget);

    // Run 1: events are accepted but not delivered; then the process is killed outright.
    const run1 = await startLocal({
      dataDir: dir,
      port,
      env: { LOCAL_PAUSE_DELIVERY: 'true', DEFINITION_CACHE_TTL_SECONDS: '0' },
    });
    const api1 = apiClient(run1.url, run1.token);
    const queuedHook = (
      await api1.post('/webhooks', definitionFor(queuedTarget.url, { events: ['E2E_QUEUED'] }))
    ).body;
    const accepted = await api1.post('/events', {
      type: 'E2E_QUEUED',
      data: { loanId: 'Q-1', amount: 1 },
    });
    await run1.stop('SIGKILL');
    await eventually(async () => (pidsWithArg(dir).length === 0 ? true : undefined), {
      what: 'run 1 to be gone',
    });

    // Run 2: the queued event is delivered; a retry is scheduled (12 s at this scale) and the platform stopped during its wait.
    const run2 = await startLocal({
      dataDir: dir,
      port,
      env: { RETRY_TIME_SCALE: '0.2', DEFINITION_CACHE_TTL_SECONDS: '0' },
    });
    const api2 = apiClient(run2.url, run2.token);
    const keptHook = await api2.get(`/webhooks/${queuedHook.id}`);
    const queued = await notificationFor(api2, queuedHook.id, accepted.body.eventId);
    await notificationWithStatus(api2, queued.id, 'SENT');
    const retryHook = (
      await api2.post('/webhooks', definitionFor(retryTarget.url, { events: ['E2E_RETRY'] }))
    ).body;
    const retried = await api2.post('/events', {
      type: 'E2E_RETRY',
      data: { loanId: 'R-1', amount: 2 },
    });
    const waiting = await notificationWithStatus(
      api2,
      (await notificationFor(api2, retryHook.id, retried.body.eventId)).id,
      'WAITING',
    );
    const run2Exit = await run2.stop('SIGTERM');

    // Run 3: the retry execution resumes and delivers.
    const run3 = await startLocal({ dataDir: dir, port, env: { RETRY_TIME_SCALE: '0.2' } });
    const api3 = apiClient(run3.url, run3.token);
    const sent = await notificationWithStatus(api3, waiting.id, 'SENT', 90);
    await run3.stop('SIGTERM');

    expect(accepted.status).toBe(202);
    expect(accepted.body.notifications).toBe(1);
    expect(keptHook.status).toBe(200);
    expect(keptHook.body.name).toBe('e2e webhook');
    expect(queuedTarget.requests.map((r) => r.url)).toEqual(['/loans/Q-1']);
    expect(run2Exit.code).toBe(0);
    expect(retryTarget.requests).toHaveLength(2);
    expect(
      sent.attempts.map((a: { trigger: string; outcome: string }) => `${a.trigger}:${a.outcome}`),
    ).toEqual(['initial:FAILED', 'retry:SENT']);
    expect(run3.output()).toMatch(/Resumed: +0 queued deliveries, 1 retry executions/);
  });
});
