/**
 * Local mode: the whole platform on one machine, with the same handlers and AWS SDK clients as
 * on AWS pointed at local stand-ins it starts itself.
 *
 *   HTTP 127.0.0.1:PORT (api-server) -> ingest / api handlers
 *   DynamoDB Local (Java, -dbPath DATA_DIR/dynamodb)
 *   fauxqs behind a journaling SQS endpoint (sqs-journal) -> pollers (sqs-poller) -> delivery handler
 *   the retry state machine CDK synthesizes, run by a local Step Functions endpoint (sfn-endpoint)
 *     whose Lambda tasks call the attempt handler in-process
 *   the retry sweeper handler on an interval (RETRY_SWEEP_INTERVAL_SECONDS, default 60 s here)
 *
 * Everything it starts, stop() stops, the Java process included. State under DATA_DIR survives
 * a restart: definitions and history (DynamoDB files), events accepted but not yet delivered
 * (SQS journal) and retry executions in flight (executions journal).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { createAwsClients } from '../lambdas/adapters/aws-clients';
import { ConfigError, ENV, envReader } from '../lambdas/config';
import { normalizeCidrs } from '../lambdas/core/egress';
import { ValidationError } from '../lambdas/core/errors';
import { required } from '../lambdas/core/required';
import type { AttemptFunctionInput } from '../lambdas/core/retry-contract';
import { DEFAULT_RETRY_SCHEDULE_SECONDS } from '../lambdas/core/retry-schedule';
import { DEFAULTS } from '../lambdas/defaults';
import { type HealthReport, listenApi } from './api-server';
import type { SfnEndpoint } from './sfn-endpoint';
import { type SqsJournal, startSqsJournal } from './sqs-journal';
import { type SqsPoller, startSqsPoller } from './sqs-poller';
import { freePort, type StandIns, standInNames, startStandIns } from './standins';

export interface PlatformOptions {
  /** API port on `host`; 0 picks a free one. Default 3000. */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Bearer token of the API; generated when absent. */
  readonly token?: string;
  /** Where state lives across restarts. Default `.local`. */
  readonly dataDir?: string;
  /** Multiplies every back-off wait. Default 1. */
  readonly retryTimeScale?: number;
  /** Nominal waits before retries 1..5 (seconds). Default DEFAULT_RETRY_SCHEDULE_SECONDS. */
  readonly retrySchedule?: readonly number[];
  /** Comma list of CIDRs the egress guard lets through. Default loopback. */
  readonly egressAllowCidrs?: string;
  /** Allow plain-http targets. Default true. */
  readonly allowHttp?: boolean;
  /** Long-poll loops on the delivery queue. Default 4. */
  readonly pollers?: number;
  /** Delivery queue visibility timeout (seconds): when a failed batch comes back. Default 30. */
  readonly visibilityTimeoutSeconds?: number;
  /**
   * Accept events but deliver nothing (no pollers): they wait in the queue, and in the journal.
   * For exercising durability; not a production switch. Default false.
   */
  readonly deliveryPaused?: boolean;
  /** Extra environment for the handlers (e.g. DEFINITION_CACHE_TTL_SECONDS, DELIVERY_CONCURRENCY). */
  readonly handlerEnv?: Readonly<Record<string, string>>;
  /** Where operational messages go (default: stderr). */
  readonly log?: (message: string) => void;
}

export interface Platform {
  readonly url: string;
  readonly port: number;
  readonly token: string;
  /** true when the token was generated (no API_TOKEN given). */
  readonly tokenGenerated: boolean;
  readonly dataDir: string;
  /** Milliseconds from startPlatform() until ready. */
  readonly startMs: number;
  /** Where the start-up time went (ms): stand-ins (DynamoDB Local, fauxqs), definition synthesis, the rest. */
  readonly phases: Readonly<Record<string, number>>;
  /** Processes started: the stand-ins' Node host and DynamoDB Local (Java). */
  readonly pids: { readonly standInsHost: number; readonly dynamo: number };
  /** What was carried over from the previous run on this DATA_DIR. */
  readonly recovered: {
    readonly queuedMessages: number;
    readonly retryExecutions: number;
    /** Health drivers (executions of the health machine) resumed. */
    readonly healthDrivers: number;
  };
  /** No pollers: events are accepted and kept, not delivered (LOCAL_PAUSE_DELIVERY). */
  readonly deliveryPaused: boolean;
  /** The environment the handlers run with (endpoints, tables, switches). */
  readonly handlerEnv: Readonly<Record<string, string>>;
  health(): Promise<HealthReport>;
  /** Resolves when no retry execution is running (tests, benchmarks). */
  retriesIdle(): Promise<void>;
  /** Stops everything it started; safe to call more than once. */
  stop(): Promise<void>;
}

export const LOCAL_DEFAULTS = {
  port: 3000,
  dataDir: '.local',
  egressAllowCidrs: '127.0.0.0/8,::1/128',
  allowHttp: true,
  retryTimeScale: 1,
  /** Long-poll loops on the delivery queue (each takes batches of up to 10 messages). */
  pollers: 4,
  /**
   * How long a cached definitions set may be reused at most. A saved definition applies to the
   * next event whatever this is: every ingest call checks the definitions revision.
   */
  definitionCacheTtlSeconds: 1,
  /** A pause or a circuit change reaches local deliveries within half a second. */
  healthCacheTtlSeconds: 0.5,
  /** How often the retry sweeper runs (its grace is RETRY_SWEEP_GRACE_SECONDS, as on AWS). */
  retrySweepIntervalSeconds: 60,
} as const;

const LOCAL_ACCOUNT = '000000000000';
const ATTEMPT_FUNCTION_ARN = (region: string) =>
  `arn:aws:lambda:${region}:${LOCAL_ACCOUNT}:function:webhooks-attempt`;
const STATE_MACHINE_ARN = (region: string, machine: 'retry' | 'health') =>
  `arn:aws:states:${region}:${LOCAL_ACCOUNT}:stateMachine:webhooks-${machine}`;
/** Receives before a delivery job moves to the dead-letter queue (the stack's redrive policy). */
const MAX_RECEIVE_COUNT = DEFAULTS.maxReceiveCount;
/** How long stop() lets batches in flight finish before moving on (they are redelivered after a restart). */
const DRAIN_GRACE_MS = 5000;

/** Reads the documented switches (PORT, API_TOKEN, RETRY_TIME_SCALE, EGRESS_ALLOW_CIDRS, ALLOW_HTTP, DATA_DIR). */
export function platformOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): PlatformOptions {
  const value = (name: string) => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const opts: { -readonly [K in keyof PlatformOptions]: PlatformOptions[K] } = {};
  const port = value('PORT');
  if (port !== undefined) {
    const n = Number(port);
    if (!Number.isInteger(n) || n < 0 || n > 65535)
      throw new ConfigError(`PORT must be a port number (0-65535), got "${port}"`);
    opts.port = n;
  }
  const token = env.API_TOKEN;
  if (token !== undefined && token !== '') {
    if (!/^[\x21-\x7e]+$/.test(token))
      throw new ConfigError('API_TOKEN must be printable ASCII without spaces');
    opts.token = token;
  }
  const scale = value('RETRY_TIME_SCALE');
  if (scale !== undefined) {
    const n = Number(scale);
    if (!Number.isFinite(n) || n <= 0 || n > 1000) {
      throw new ConfigError(
        `RETRY_TIME_SCALE must be a number above 0 and at most 1000, got "${scale}"`,
      );
    }
    opts.retryTimeScale = n;
  }
  // Switches the handlers read too are parsed by the handlers' own reader: one rule each.
  const read = envReader(env);
  const cidrs = env[ENV.EGRESS_ALLOW_CIDRS];
  if (cidrs !== undefined) {
    // Checked here, by the sender's own rule, so a bad one is refused before anything starts.
    try {
      normalizeCidrs(read.list(ENV.EGRESS_ALLOW_CIDRS, []), ENV.EGRESS_ALLOW_CIDRS);
    } catch (err) {
      if (err instanceof ValidationError)
        throw new ConfigError(`Environment variable ${err.message}`);
      throw err;
    }
    opts.egressAllowCidrs = cidrs.trim();
  }
  if (value(ENV.ALLOW_HTTP) !== undefined) opts.allowHttp = read.bool(ENV.ALLOW_HTTP, false);
  if (value('LOCAL_PAUSE_DELIVERY') !== undefined)
    opts.deliveryPaused = read.bool('LOCAL_PAUSE_DELIVERY', false);
  const dataDir = value('DATA_DIR');
  if (dataDir !== undefined) opts.dataDir = dataDir;
  if (value(ENV.RETRY_SCHEDULE_SECONDS) !== undefined) {
    opts.retrySchedule = read.numberArray(
      ENV.RETRY_SCHEDULE_SECONDS,
      DEFAULT_RETRY_SCHEDULE_SECONDS,
      DEFAULT_RETRY_SCHEDULE_SECONDS.length,
    );
  }
  // Handler tuning passes straight through; the handlers validate it.
  const handlerEnv: Record<string, string> = {};
  for (const name of [
    ENV.DEFINITION_CACHE_TTL_SECONDS,
    ENV.DELIVERY_CONCURRENCY,
    ENV.RETENTION_DAYS,
    ENV.HEALTH_CACHE_TTL_SECONDS,
    ENV.AUTO_DISABLE_AFTER_HOURS,
    ENV.SLOW_ATTEMPT_THRESHOLD_MS,
    ENV.HEALTH_COUNT_FLUSH_SECONDS,
    ENV.CIRCUIT_BREAKER,
    ENV.RETRY_SWEEP_GRACE_SECONDS,
    ENV.RETRY_SWEEP_MAX_STARTS,
    ENV.RETRY_SWEEP_INTERVAL_SECONDS,
  ]) {
    const v = value(name);
    if (v !== undefined) handlerEnv[name] = v;
  }
  if (Object.keys(handlerEnv).length > 0) opts.handlerEnv = handlerEnv;
  return opts;
}

/** The oldest Node.js major local mode runs on: package.json's engines (fauxqs 2 needs node:sqlite). */
export const MIN_NODE_MAJOR = Number(
  /^>=\s*(\d+)/.exec(
    (require('../package.json') as { engines: { node: string } }).engines.node,
  )?.[1],
);

/**
 * Refuses a Node.js older than MIN_NODE_MAJOR with a message saying which one runs this and
 * where the right one is, instead of a stand-in failing later on a missing built-in module.
 */
export function checkNodeVersion(version: string = process.versions.node): void {
  const major = Number(version.split('.')[0]);
  if (!(major >= MIN_NODE_MAJOR) && Number.isInteger(MIN_NODE_MAJOR)) {
    throw new ConfigError(
      `local mode needs Node.js ${MIN_NODE_MAJOR} or newer, and this is Node.js ${version}. ` +
        `Start it with npm (npm start, npm run demo): npm scripts run the Node.js ${MIN_NODE_MAJOR} that ` +
        'npm ci installs in node_modules/.bin.',
    );
  }
}

export async function startPlatform(options: PlatformOptions = {}): Promise<Platform> {
  checkNodeVersion();
  const started = Date.now();
  const log = options.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const dataDir = path.resolve(options.dataDir ?? LOCAL_DEFAULTS.dataDir);
  const host = options.host ?? '127.0.0.1';
  const tokenGenerated = options.token === undefined;
  const token = options.token ?? randomBytes(24).toString('base64url');
  const schedule = options.retrySchedule ?? DEFAULT_RETRY_SCHEDULE_SECONDS;

  // The port first: a taken port fails here, before anything was started.
  const api = await listenApi(options.port ?? LOCAL_DEFAULTS.port, host);
  const cleanup: (() => Promise<void>)[] = [() => api.close()];
  const runCleanup = async () => {
    for (const step of cleanup.reverse()) {
      await step().catch((err) => log(`while stopping: ${(err as Error).message}`));
    }
    cleanup.length = 0;
  };

  try {
    useDataDir(dataDir);
    const releaseLock = lockDataDir(dataDir);
    cleanup.push(async () => releaseLock());

    // DynamoDB Local boots in its own process (spawned synchronously here, given a port)
    // while this one loads the heavy modules, synthesizes the definition and validates it.
    const standInsStarting = startStandIns({
      dataDir,
      dynamoPort: await freePort(),
      visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 30,
      maxReceiveCount: MAX_RECEIVE_COUNT,
    });
    // Awaited below; until then a failure must not count as unhandled.
    standInsStarting.catch(() => {});
    let standIns: StandIns | undefined;
    cleanup.push(async () => {
      // A failed start may still be in flight; it stops itself when it fails.
      standIns ??= await standInsStarting.catch(() => undefined);
      await standIns?.stop();
    });
    // require, not import(): the modules are TypeScript, compiled on require by local/register.js.
    const {
      synthesizeHealthDefinition,
      synthesizeRetryDefinition,
    }: typeof import('../lib/retry-definition') = require('../lib/retry-definition');
    const { startSfnEndpoint }: typeof import('./sfn-endpoint') = require('./sfn-endpoint');
    const handlers = loadHandlerModules();
    const region = 'us-east-1';
    const attemptArn = ATTEMPT_FUNCTION_ARN(region);
    const machineArns = {
      retry: STATE_MACHINE_ARN(region, 'retry'),
      health: STATE_MACHINE_ARN(region, 'health'),
    };
    const synthStarted = Date.now();
    const machines = [
      {
        stateMachineArn: machineArns.retry,
        definition: synthesizeRetryDefinition({ schedule, attemptFunctionArn: attemptArn }),
      },
      {
        stateMachineArn: machineArns.health,
        definition: synthesizeHealthDefinition({ attemptFunctionArn: attemptArn }),
      },
    ];
    const synthMs = Date.now() - synthStarted;

    // Resumed executions may call the attempt Lambda at once: it waits until the handlers exist.
    let bindAttempt!: (fn: (input: AttemptFunctionInput) => Promise<unknown>) => void;
    const attemptReady = new Promise<(input: AttemptFunctionInput) => Promise<unknown>>(
      (resolve) => {
        bindAttempt = resolve;
      },
    );
    const sfn: SfnEndpoint = await startSfnEndpoint({
      machines,
      functions: {
        [attemptArn]: async (payload) => (await attemptReady)(payload as AttemptFunctionInput),
      },
      dataDir,
      retryIntervalScale: options.retryTimeScale ?? LOCAL_DEFAULTS.retryTimeScale,
      onError: (message, err) =>
        log(`step functions: ${message}${err ? `: ${(err as Error)?.message ?? err}` : ''}`),
    });
    cleanup.push(() => sfn.stop());

    standIns = await standInsStarting;
    const wiringStarted = Date.now();

    const names = standInNames();
    const journal: SqsJournal = await startSqsJournal({
      target: standIns.sqsEndpoint,
      dataDir,
      queues: {
        [names.queue]: {
          url: standIns.queueUrl,
          deadLetter: { queueName: names.dlq, maxReceiveCount: MAX_RECEIVE_COUNT },
        },
        [names.dlq]: { url: standIns.dlqUrl },
      },
      onError: (message, err) => log(`sqs journal: ${message}: ${(err as Error)?.message ?? err}`),
    });
    cleanup.push(() => journal.stop());

    const handlerEnv: Record<string, string> = {
      ...standIns.env,
      AWS_ENDPOINT_URL_SQS: journal.url,
      AWS_ENDPOINT_URL_SFN: sfn.url,
      [ENV.RETRY_STATE_MACHINE_ARN]: machineArns.retry,
      [ENV.HEALTH_STATE_MACHINE_ARN]: machineArns.health,
      [ENV.RETRY_SCHEDULE_SECONDS]: JSON.stringify(schedule),
      [ENV.RETRY_TIME_SCALE]: String(options.retryTimeScale ?? LOCAL_DEFAULTS.retryTimeScale),
      [ENV.SENDER_IPS]: '127.0.0.1',
      [ENV.EGRESS_ALLOW_CIDRS]: options.egressAllowCidrs ?? LOCAL_DEFAULTS.egressAllowCidrs,
      [ENV.ALLOW_HTTP]: String(options.allowHttp ?? LOCAL_DEFAULTS.allowHttp),
      [ENV.DEFINITION_CACHE_TTL_SECONDS]: String(LOCAL_DEFAULTS.definitionCacheTtlSeconds),
      [ENV.HEALTH_CACHE_TTL_SECONDS]: String(LOCAL_DEFAULTS.healthCacheTtlSeconds),
      [ENV.RETRY_SWEEP_INTERVAL_SECONDS]: String(LOCAL_DEFAULTS.retrySweepIntervalSeconds),
      ...options.handlerEnv,
    };

    // The composition roots the Lambda entry points use, fed this environment instead of process.env.
    const ingest = handlers.composeIngest(handlerEnv).handler;
    const apiHandler = handlers.composeApi(handlerEnv).handler;
    const delivery = handlers.composeDelivery(handlerEnv).handler;
    bindAttempt(handlers.composeAttempt(handlerEnv).handler);
    const sweeper = handlers.composeSweeper(handlerEnv);

    const replayed = await journal.replay();
    const pollerClients = createAwsClients(handlerEnv);
    cleanup.push(async () => pollerClients.sqs.destroy());
    const pollers: SqsPoller | undefined = options.deliveryPaused
      ? undefined
      : startSqsPoller({
          client: pollerClients.sqs,
          queueUrl: standIns.queueUrl,
          queueArn: `arn:aws:sqs:${region}:${LOCAL_ACCOUNT}:${names.queue}`,
          region,
          handler: delivery,
          pollers: options.pollers ?? LOCAL_DEFAULTS.pollers,
          onError: (message, err) =>
            log(`delivery queue: ${message}: ${(err as Error)?.message ?? JSON.stringify(err)}`),
        });
    cleanup.push(async () => {
      if (pollers)
        await Promise.race([
          pollers.stop(),
          new Promise((r) => setTimeout(r, DRAIN_GRACE_MS).unref()),
        ]);
    });

    // The retry sweeper, as EventBridge runs it on AWS: one sweep per interval, never two at once.
    const sweeps = options.deliveryPaused
      ? undefined
      : startSweeps(sweeper.handler, sweeper.config.slotMs, (err) =>
          log(`retry sweep: ${(err as Error)?.message ?? err}`),
        );
    cleanup.push(async () => sweeps?.stop());

    const clientsForHealth = createAwsClients(handlerEnv);
    cleanup.push(async () => {
      clientsForHealth.dynamo.destroy();
      clientsForHealth.sqs.destroy();
      clientsForHealth.sfn.destroy();
    });
    const health = async (): Promise<HealthReport> => {
      const probe = async (
        fn: (signal: AbortSignal) => Promise<unknown>,
      ): Promise<'up' | 'down'> => {
        try {
          await fn(AbortSignal.timeout(2000));
          return 'up';
        } catch {
          return 'down';
        }
      };
      const [dynamodb, sqs, stepFunctions] = await Promise.all([
        probe((abortSignal) =>
          clientsForHealth.dynamo.send(new ListTablesCommand({ Limit: 1 }), { abortSignal }),
        ),
        probe((abortSignal) =>
          clientsForHealth.sqs.send(
            new GetQueueAttributesCommand({
              QueueUrl: required(standIns, 'the stand-ins').queueUrl,
              AttributeNames: ['QueueArn'],
            }),
            { abortSignal },
          ),
        ),
        probe(async (signal) => {
          const res = await fetch(`${sfn.url}/health`, { signal });
          if (!res.ok) throw new Error(String(res.status));
        }),
      ]);
      const components = {
        dynamodb,
        sqs,
        stepFunctions,
        pollers: pollers === undefined ? 'paused' : pollers.healthy() ? 'up' : 'down',
      } as const;
      return { ok: Object.values(components).every((c) => c !== 'down'), components };
    };

    api.attach({
      token,
      ingest,
      api: apiHandler,
      health,
      region,
      onError: (message, err) => log(`${message}: ${(err as Error)?.stack ?? err}`),
    });

    const queuedMessages = Object.values(replayed).reduce((a, b) => a + b, 0);
    let stopping: Promise<void> | undefined;
    return {
      url: api.url,
      port: api.port,
      token,
      tokenGenerated,
      dataDir,
      startMs: Date.now() - started,
      phases: {
        standIns: standIns.startMs,
        synthesis: synthMs,
        wiring: Date.now() - wiringStarted,
      },
      pids: { standInsHost: standIns.pids.host, dynamo: standIns.pids.dynamo },
      recovered: {
        queuedMessages,
        retryExecutions: sfn.resumedByMachine[machineArns.retry] ?? 0,
        healthDrivers: sfn.resumedByMachine[machineArns.health] ?? 0,
      },
      deliveryPaused: pollers === undefined,
      handlerEnv,
      health,
      retriesIdle: () => sfn.whenIdle(),
      stop: () => {
        // Requests first: nothing new reaches the handlers while the rest stops.
        stopping ??= api.close().then(runCleanup);
        return stopping;
      },
    };
  } catch (err) {
    await runCleanup();
    throw err;
  }
}

/** The composition roots the Lambda entry points are built from. */
function loadHandlerModules() {
  const ingest: typeof import('../lambdas/composition/ingest') = require('../lambdas/composition/ingest');
  const api: typeof import('../lambdas/composition/api') = require('../lambdas/composition/api');
  const delivery: typeof import('../lambdas/composition/delivery') = require('../lambdas/composition/delivery');
  const attempt: typeof import('../lambdas/composition/attempt') = require('../lambdas/composition/attempt');
  const sweeper: typeof import('../lambdas/composition/sweeper') = require('../lambdas/composition/sweeper');
  return {
    composeIngest: ingest.composeIngest,
    composeApi: api.composeApi,
    composeDelivery: delivery.composeDelivery,
    composeAttempt: attempt.composeAttempt,
    composeSweeper: sweeper.composeSweeper,
  };
}

/**
 * Runs `sweep` every `intervalMs` with the time of the run (as a schedule event's), skipping a
 * tick while a sweep is still running. stop() clears the timer and waits for a running sweep.
 */
export function startSweeps(
  sweep: (event: { time: string }) => Promise<unknown>,
  intervalMs: number,
  onError: (err: unknown) => void,
): { stop(): Promise<void> } {
  let running: Promise<void> | undefined;
  let stopped = false;
  const timer = setInterval(() => {
    if (running || stopped) return;
    running = sweep({ time: new Date().toISOString() })
      .then(
        () => undefined,
        (err) => onError(err),
      )
      .finally(() => {
        running = undefined;
      });
  }, intervalMs);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}

/** Makes DATA_DIR if needed; one that cannot be a writable directory is refused, naming it. */
function useDataDir(dataDir: string): void {
  try {
    fs.mkdirSync(dataDir, { recursive: true });
    fs.accessSync(dataDir, fs.constants.W_OK);
  } catch (err) {
    throw new ConfigError(
      `DATA_DIR ${dataDir} cannot be used (${(err as Error).message}): set DATA_DIR to a directory this user can write.`,
    );
  }
}

/** Lock files this process holds (a second platform in the same process is refused too). */
const heldLocks = new Set<string>();

/**
 * One platform per DATA_DIR: a second one would fight over DynamoDB Local's files and the
 * journals. A lock left by a process that no longer runs is taken over, and so is one whose pid
 * now belongs to another process: after a SIGKILL, a reboot or a container restart the old pid
 * is often reused (in a container the platform tends to get the same pid each time), so the
 * lock records the owner's start time beside its pid where the system tells it (Linux /proc).
 */
export function lockDataDir(dataDir: string): () => void {
  const lockFile = path.resolve(dataDir, 'platform.lock');
  const mine = lockContent(process.pid);
  for (let tries = 0; tries < 2; tries++) {
    try {
      fs.writeFileSync(lockFile, mine, { flag: 'wx' });
      heldLocks.add(lockFile);
      return () => {
        heldLocks.delete(lockFile);
        // Only our own lock: never one another platform took over meanwhile.
        if (readLock(lockFile) === mine) fs.rmSync(lockFile, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const [pidText = '', started] = (readLock(lockFile) ?? '').trim().split('\n');
      const owner = Number(pidText.trim());
      if (
        heldLocks.has(lockFile) ||
        (Number.isInteger(owner) && owner > 0 && isOwnerRunning(owner, started?.trim()))
      ) {
        throw new ConfigError(
          `DATA_DIR ${dataDir} is in use by another running platform (pid ${owner}). Stop it, or set DATA_DIR to another directory.`,
        );
      }
      fs.rmSync(lockFile, { force: true });
    }
  }
  throw new ConfigError(`could not lock DATA_DIR ${dataDir}`);
}

/** Whether the lock's owner still runs: its pid is alive, not ours, and started when it said. */
function isOwnerRunning(owner: number, started: string | undefined): boolean {
  // Our own pid in a lock we do not hold was left by an earlier process that had that pid.
  if (owner === process.pid || !isRunning(owner)) return false;
  const now = processStartTime(owner);
  // A lock without a start time (or a system that does not tell) is taken at its word.
  return started === undefined || started === '' || now === undefined || now === started;
}

function lockContent(pid: number): string {
  const started = processStartTime(pid);
  return started === undefined ? `${pid}\n` : `${pid}\n${started}\n`;
}

function readLock(lockFile: string): string | undefined {
  try {
    return fs.readFileSync(lockFile, 'utf8');
  } catch {
    return undefined;
  }
}

/** When process `pid` started (clock ticks since boot, from /proc); undefined where unknown. */
function processStartTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]; // field 22, starttime
  } catch {
    return undefined;
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
