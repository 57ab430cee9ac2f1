/**
 * The cost model, pure: a scenario, the stack's facts (cost-facts.ts), what was measured
 * (cost-measure.ts) and the prices in, dollars out. No I/O, no clock, no randomness, so it has
 * unit tests of its own (test/unit/cost-model.test.ts).
 *
 * The scenario that counts is the "mixed month" (MIXED_MONTH): 1,000,000 notifications, 10
 * events per POST, 20 webhooks with equal traffic, 1 % of first attempts fail and succeed at the
 * first retry, one receiver is down for 48 hours and then comes back. Its outage is priced as
 * the destination-health contract has it (README "Destination health"): after
 * `opensAfterFailures` failed attempts the circuit opens, new and due notifications are parked
 * without attempts or executions, one probe per cool-down (30 s doubling up to 30 min), and the
 * parked notifications are delivered through the queue once a probe succeeds. The
 * `perNotification` handling prices the same outage with one retry execution per notification,
 * as without a circuit breaker.
 */

import { DICTIONARY_BUCKET_SECONDS } from '../lambdas/adapters/payload-dictionary';
import type { TlsKeyExchange } from '../lambdas/config';

export interface Price {
  readonly usd: number;
  readonly unit: string;
  /** Where the price was read (a pricing page). */
  readonly source: string;
  /** When it was read, YYYY-MM-DD. */
  readonly readOn: string;
}

export interface PriceFile {
  readonly region: string;
  readonly currency: string;
  readonly prices: Record<string, Price>;
  readonly assumptions: Record<string, number | string>;
}

export interface FunctionFacts {
  readonly memoryMb: number;
  readonly architecture: string;
  readonly logicalId: string;
  /** POWERTOOLS_LOGGER_SAMPLE_RATE: share of invocations that log at DEBUG (1 when unset: no sampling). */
  readonly logSampleRate: number;
  readonly logLevel: string;
  /** Whether Lambda writes its START/END/REPORT lines (text format, or JSON at system level INFO/DEBUG). */
  readonly platformLogLines: boolean;
}

export interface StackFacts {
  readonly functions: Record<string, FunctionFacts>;
  readonly otherFunctions: number;
  readonly sqsBatchSize: number;
  readonly natGateways: number;
  readonly natInstances: readonly { readonly instanceType: string; readonly volumeGb: number }[];
  /** Subnets (one per AZ) the sending Lambdas run in. */
  readonly senderSubnets: number;
  readonly elasticIps: number;
  readonly alarms: number;
  readonly dashboards: number;
  readonly kmsKeys: number;
  readonly interfaceEndpoints: number;
  /** SQS event source mappings: their pollers receive from the queue all month, traffic or not. */
  readonly sqsEventSources: number;
  readonly pitrTables: number;
  /** Table class of the Payloads table: STANDARD or STANDARD_INFREQUENT_ACCESS. */
  readonly payloadsTableClass: string;
  readonly stateMachines: number;
  readonly stateMachineType: string;
  readonly stateMachineLogLevel: string;
  readonly stateMachineTracing: boolean;
  readonly retentionDays: number;
  readonly retrySchedule: readonly number[];
  readonly deliveryConcurrency: number;
  /** TLS_KEY_EXCHANGE of the senders: which measured wire bytes price the month. */
  readonly tlsKeyExchange: TlsKeyExchange;
}

/** DynamoDB units of one notification along one path, as DynamoDB reports them, and its bytes. */
export interface PathUnits {
  /** Write units, table and indexes (ReturnConsumedCapacity). */
  readonly wru: number;
  /** Of `wru`, the indexes' share. */
  readonly indexWru: number;
  readonly rru: number;
  /** Bytes of its items, plus 100 B each (what PITR is billed on). */
  readonly tableBytes: number;
  /** `tableBytes` plus its index entries (what storage is billed on). */
  readonly storedBytes: number;
  /** Of the above, the Payloads table's part (no indexes): priced at that table's class. */
  readonly payloads: { readonly wru: number; readonly rru: number; readonly tableBytes: number };
}

/** How a retry execution ends: sent at retry k, or all retries failed. */
export const RETRY_OUTCOMES = [
  'retry1',
  'retry2',
  'retry3',
  'retry4',
  'retry5',
  'exhausted',
] as const;
export type RetryOutcome = (typeof RETRY_OUTCOMES)[number];

export interface MachineCount {
  /** States entered (billed state transitions), over all executions of the notification. */
  readonly transitions: number;
  readonly historyEvents: number;
  /** Lambda invocations by the machine. */
  readonly taskInvocations: number;
  /** Retry executions: one per retry. */
  readonly executions: number;
}

/** The health machine: what each step of a driver costs, and what an execution adds. */
export interface HealthMachineCount {
  readonly transitionsPerStep: number;
  readonly transitionsPerExecution: number;
  readonly historyEventsPerStep: number;
  readonly historyEventsPerExecution: number;
}

export interface LogBytes {
  /** Per notification sent at its first attempt, in an invocation that is not sampled / that is. */
  readonly sentUnsampled: number;
  readonly sentSampled: number;
  /** Per notification whose first attempt failed (a retry scheduled). */
  readonly firstFailed: number;
  /** Per attempt-Lambda invocation: a retry that succeeded, one that failed, the fifth failing (it marks FAILED). */
  readonly attemptRecovered: number;
  readonly attemptFailed: number;
  readonly lastFailed: number;
}

/** A compression dictionary item lasts for the 30-day period its requests expire in. */
const DICTIONARY_PERIOD_DAYS = DICTIONARY_BUCKET_SECONDS / 86_400;

export interface Measured {
  readonly units: Record<'sent' | 'parked' | RetryOutcome, PathUnits>;
  readonly transitions: Record<RetryOutcome, MachineCount>;
  /** The health drivers' machine, measured as the retry machine is. */
  readonly health: HealthMachineCount;
  readonly logs: LogBytes;
  /** CPU microseconds (this machine) per first attempt, per retry attempt, per SDK call. */
  readonly cpuUs: {
    readonly firstAttempt: number;
    readonly attempt: number;
    readonly sdkCall: number;
  };
  /** Ingest Lambda duration per POST, single event and batch. */
  readonly ingestMs: { readonly batch: number; readonly single: number };
  /** Bytes of one delivery job on the queue. */
  readonly messageBytes: number;
  /**
   * A webhook's compression dictionary item in the Payloads table (payload-dictionary.ts):
   * write units of its one write per 30-day period, and the bytes it keeps. Absent: none.
   */
  readonly dictionary?: { readonly wru: number; readonly tableBytes: number };
  /**
   * Bytes of one attempt on the wire: on a new connection with a full TLS handshake, and on one
   * that resumed the sender's cached TLS session (equal to `full` when the sender did not).
   */
  readonly wire: { readonly full: WireBytes; readonly resumed: WireBytes };
}

export interface WireBytes {
  /** Both directions: what a NAT gateway processes. */
  readonly both: number;
  /** Leaving AWS: data transfer out. */
  readonly outbound: number;
}

/**
 * Share of the delivery Lambda's attempts that resume a TLS session rather than make a full
 * handshake. The sender keeps one session per receiver host in each execution environment; a
 * receiver honours it for `sessionSeconds` (300 s: the default of nginx's ssl_session_timeout
 * and of Node's TLS servers; many keep them far longer). With a webhook's notifications
 * arriving at random (Poisson) over the month and shared among `environments` warm
 * environments, an attempt resumes when the environment's previous attempt to that receiver is
 * younger than `sessionSeconds`. Retries and probes (the attempt Lambda, minutes to hours
 * apart) are priced as full handshakes.
 */
export function tlsResumedShare(
  s: Scenario,
  a: { readonly sessionSeconds: number; readonly environments: number },
): number {
  const perSecond = s.notifications / s.webhooks / (s.hoursPerMonth * 3600) / a.environments;
  return 1 - Math.exp(-perSecond * a.sessionSeconds);
}

/**
 * Share of the attempts that reach their NAT in another AZ: each NAT serves its own AZ's sender
 * subnet, and the attempts are spread evenly over the sender subnets.
 */
export function crossAzShare(
  facts: Pick<StackFacts, 'natGateways' | 'natInstances' | 'senderSubnets'>,
): number {
  if (facts.senderSubnets <= 0) return 0;
  const egress = facts.natGateways + facts.natInstances.length;
  return Math.max(0, 1 - egress / facts.senderSubnets);
}

export interface Scenario {
  readonly notifications: number;
  readonly eventsPerRequest: number;
  /** Webhooks with equal traffic; every event matches exactly one. */
  readonly webhooks: number;
  /** Share of first attempts (outside the outage) that fail... */
  readonly firstAttemptFailureShare: number;
  /** ...and succeed at this retry (1..5), or never. */
  readonly recoverAt: RetryOutcome;
  /** Receivers down for `hours`, then back; null: no outage. */
  readonly outage: { readonly receivers: number; readonly hours: number } | null;
  readonly hoursPerMonth: number;
}

export const MIXED_MONTH: Scenario = {
  notifications: 1_000_000,
  eventsPerRequest: 10,
  webhooks: 20,
  firstAttemptFailureShare: 0.01,
  recoverAt: 'retry1',
  outage: { receivers: 1, hours: 48 },
  hoursPerMonth: 730,
};

/** README "Destination health". */
export interface HealthContract {
  readonly opensAfterFailures: number;
  readonly probeCooldownSeconds: number;
  readonly probeCooldownMaxSeconds: number;
  /** Write units of one probe (circuit state). */
  readonly writeUnitsPerProbe: number;
}

export const DESIGN_HEALTH: HealthContract = {
  opensAfterFailures: 5,
  probeCooldownSeconds: 30,
  probeCooldownMaxSeconds: 1800,
  writeUnitsPerProbe: 2,
};

export type OutageHandling = 'perCircuit' | 'perNotification';

/** How many notifications take each path in a scenario. */
export interface Traffic {
  /** Sent at the first attempt. */
  readonly sent: number;
  /** Notifications with a retry execution, by how it ended. */
  readonly retried: Record<RetryOutcome, number>;
  /** Parked while a circuit was open, delivered through the queue once it closed. */
  readonly parked: number;
  /** Of `parked`, those whose first attempt failed before the circuit opened (they had an execution). */
  readonly parkedAfterExecution: number;
  readonly circuitOpenings: number;
  readonly probes: number;
  /** Ended FAILED without being delivered (retries exhausted during an outage). */
  readonly undelivered: number;
}

/** Probes of a circuit open `hours`: one per cool-down (doubling to the maximum), plus the one that closes it. */
export function probeCount(hours: number, health: HealthContract): number {
  let elapsed = 0;
  let cooldown = health.probeCooldownSeconds;
  let probes = 0;
  const open = hours * 3600;
  while (elapsed + cooldown < open) {
    elapsed += cooldown;
    probes++;
    cooldown = Math.min(cooldown * 2, health.probeCooldownMaxSeconds);
  }
  return probes + 1;
}

/**
 * Notifications created uniformly over an outage of `hours`, each retried on `schedule`
 * (nominal waits, seconds): the share whose first retry after the outage is retry k, and the
 * share whose retries all fall inside it.
 */
export function outageRetryShares(
  hours: number,
  schedule: readonly number[],
): Record<RetryOutcome, number> {
  const h = hours * 3600;
  const shares = Object.fromEntries(RETRY_OUTCOMES.map((o) => [o, 0])) as Record<
    RetryOutcome,
    number
  >;
  let before = 0;
  for (let k = 1; k <= 5; k++) {
    const after = before + (schedule[k - 1] ?? 0);
    shares[`retry${k}` as RetryOutcome] = (Math.min(after, h) - Math.min(before, h)) / h;
    before = after;
  }
  shares.exhausted = Math.max(0, h - before) / h;
  return shares;
}

export function trafficOf(
  s: Scenario,
  schedule: readonly number[],
  handling: OutageHandling,
  health: HealthContract = DESIGN_HEALTH,
): Traffic {
  const retried = Object.fromEntries(RETRY_OUTCOMES.map((o) => [o, 0])) as Record<
    RetryOutcome,
    number
  >;
  const receivers = s.outage?.receivers ?? 0;
  const perReceiver = s.outage
    ? (s.notifications / s.webhooks) * (s.outage.hours / s.hoursPerMonth)
    : 0;
  const outageN = receivers * perReceiver;
  const normal = s.notifications - outageN;
  retried[s.recoverAt] += normal * s.firstAttemptFailureShare;
  const sent = normal * (1 - s.firstAttemptFailureShare);
  let parked = 0;
  let parkedAfterExecution = 0;
  let probes = 0;
  let undelivered = s.recoverAt === 'exhausted' ? normal * s.firstAttemptFailureShare : 0;
  if (s.outage && outageN > 0) {
    if (handling === 'perCircuit') {
      parked = outageN;
      parkedAfterExecution = receivers * Math.min(perReceiver, health.opensAfterFailures);
      probes = receivers * probeCount(s.outage.hours, health);
    } else {
      const shares = outageRetryShares(s.outage.hours, schedule);
      for (const o of RETRY_OUTCOMES) retried[o] += outageN * shares[o];
      undelivered += outageN * shares.exhausted;
    }
  }
  return {
    sent,
    retried,
    parked,
    parkedAfterExecution,
    circuitOpenings: handling === 'perCircuit' && outageN > 0 ? receivers : 0,
    probes,
    undelivered,
  };
}

export interface ModelInput {
  readonly facts: StackFacts;
  readonly prices: Record<string, Price>;
  readonly assumptions: Record<string, number>;
  readonly measured: Measured;
}

export interface ModelOptions {
  readonly handling?: OutageHandling;
  readonly health?: HealthContract;
  /** Overrides of the synthesized stack's settings (what-if rows). */
  readonly pitr?: boolean;
  readonly retentionDays?: number;
  readonly payloadsTableClass?: string;
  /** false: every attempt pays a full TLS handshake (a receiver that never resumes sessions). */
  readonly tlsResumption?: boolean;
  /** false: PITR on every table but the Payloads table (the write-once requests). */
  readonly pitrOnPayloads?: boolean;
  /** false: the Lambdas' platform lines (START, END, REPORT) not written. */
  readonly platformLogLines?: boolean;
  /** Bytes of an attempt measured another way (another key exchange) instead of `measured.wire`. */
  readonly wire?: Measured['wire'];
}

export interface Breakdown {
  /** Dollars per million notifications, by service line (3 significant digits). */
  readonly perMillion: Record<string, number>;
  /** Dollars of the whole month, by service line, unrounded. */
  readonly month: Readonly<Record<string, number>>;
  readonly total: number;
  readonly traffic: Traffic;
  /** Volumes per million notifications. */
  readonly volumes: Record<string, number>;
}

const round = (v: number, digits = 3) => {
  if (v === 0 || !Number.isFinite(v)) return v;
  const scale = 10 ** Math.max(0, digits - Math.ceil(Math.log10(Math.abs(v))));
  return Math.round(v * scale) / scale;
};

/** A price from prices.json, in dollars; a missing one fails the run naming it. */
function priceOf(prices: Record<string, Price>, k: string): number {
  const p = prices[k];
  if (!p) throw new Error(`prices.json has no price ${k}`);
  return p.usd;
}

/** An assumption from prices.json; a missing one fails the run naming it. */
function assumptionOf(assumptions: Record<string, number>, k: string): number {
  const v = assumptions[k];
  if (typeof v !== 'number') throw new Error(`prices.json has no assumption ${k}`);
  return v;
}

export function monthCost(input: ModelInput, s: Scenario, opts: ModelOptions = {}): Breakdown {
  const { facts, prices, assumptions: a, measured: m } = input;
  const price = (k: string) => priceOf(prices, k);
  const assume = (k: string) => assumptionOf(a, k);
  const handling = opts.handling ?? 'perCircuit';
  const health = opts.health ?? DESIGN_HEALTH;
  const t = trafficOf(s, facts.retrySchedule, handling, health);
  const N = s.notifications;
  const B = facts.sqsBatchSize;
  const fn = (name: string) => facts.functions[name];
  const gb = (name: string) => (fn(name)?.memoryMb ?? 512) / 1024;
  const stretch = (name: string) =>
    Math.max(1, assume('lambdaFullVcpuMemoryMb') / (fn(name)?.memoryMb ?? 512)) /
    assume('cpuSpeedVsThisMachine');
  const sumRetried = (f: (o: RetryOutcome) => number) =>
    RETRY_OUTCOMES.reduce((acc, o) => acc + t.retried[o] * f(o), 0);

  const requests = N / s.eventsPerRequest;
  // Jobs through the queue and the delivery Lambda: every notification once, parked ones twice.
  const jobs = N + t.parked;
  const deliveryInvocations = jobs / B;
  // One execution per retry; a notification parked by its first retry had one.
  const retryExecutions =
    sumRetried((o) => m.transitions[o].executions) +
    t.parkedAfterExecution * m.transitions.retry1.executions;
  const attemptInvocations =
    sumRetried((o) => m.transitions[o].taskInvocations) +
    t.parkedAfterExecution * m.transitions.retry1.taskInvocations +
    t.probes;
  const firstAttempts = N - t.parked + t.parkedAfterExecution;
  const attempts =
    firstAttempts +
    sumRetried((o) => (o === 'exhausted' ? 5 : Number(o.slice(-1)))) +
    t.parkedAfterExecution +
    t.probes +
    t.parked;

  const out: Record<string, number> = {};
  out.apiGateway = requests * price('apiGatewayHttpRequest');
  out.lambdaRequests =
    (requests + deliveryInvocations + attemptInvocations) * price('lambdaRequest');
  const ingestMs = s.eventsPerRequest === 1 ? m.ingestMs.single : m.ingestMs.batch;
  out.lambdaDurationIngest =
    requests * (ingestMs / 1000) * gb('ingest') * price('lambdaGbSecondArm64');
  const failInBatch = 1 - (1 - retryExecutions / jobs) ** B;
  const deliveryMs =
    (B * m.cpuUs.firstAttempt * stretch('delivery')) / 1000 +
    2 * assume('dynamoCallMs') +
    assume('receiverResponseMs') +
    failInBatch * assume('stepFunctionsStartMs');
  out.lambdaDurationDelivery =
    deliveryInvocations * (deliveryMs / 1000) * gb('delivery') * price('lambdaGbSecondArm64');
  const attemptMs =
    (m.cpuUs.attempt * stretch('attempt')) / 1000 +
    3 * assume('dynamoCallMs') +
    assume('failedReceiverResponseMs');
  out.lambdaDurationAttempt =
    attemptInvocations * (attemptMs / 1000) * gb('attempt') * price('lambdaGbSecondArm64');
  const chunks = (messages: number) =>
    Math.max(1, Math.ceil((messages * m.messageBytes) / (64 * 1024)));
  // Ingest sends a batch per POST; the delivery Lambda receives a batch and deletes it; a
  // circuit that closes sends its parked notifications back in batches of 10.
  out.sqs =
    (requests * chunks(s.eventsPerRequest) +
      deliveryInvocations * (chunks(B) + 1) +
      (t.parked / 10) * chunks(10)) *
    price('sqsRequest');

  const perPath = (f: (u: PathUnits) => number) =>
    t.sent * f(m.units.sent) + sumRetried((o) => f(m.units[o])) + t.parked * f(m.units.parked);
  const wru = perPath((u) => u.wru) + t.probes * health.writeUnitsPerProbe;
  const rru = perPath((u) => u.rru);
  // The Payloads table's share at its own class's prices, the rest at Standard.
  const payloadClass = opts.payloadsTableClass ?? facts.payloadsTableClass;
  const payloadPrice = (k: string) =>
    payloadClass === 'STANDARD_INFREQUENT_ACCESS' ? price(`${k}Ia`) : price(k);
  const retentionDays = opts.retentionDays ?? facts.retentionDays;
  const monthDays = s.hoursPerMonth / 24;
  const months = retentionDays / monthDays;
  // Each webhook's dictionary (Payloads table): written once per 30-day period in which its
  // requests expire, so kept for the retention plus that period. The scenario's webhooks
  // share one template, hence one dictionary; a deployment's would not: one each is counted.
  const dictionary = m.dictionary ?? { wru: 0, tableBytes: 0 };
  const dictionaryWru = s.webhooks * (monthDays / DICTIONARY_PERIOD_DAYS) * dictionary.wru;
  const dictionaryBytes =
    s.webhooks * (retentionDays / DICTIONARY_PERIOD_DAYS + 1) * dictionary.tableBytes;
  const payloadWru = perPath((u) => u.payloads.wru);
  const payloadRru = perPath((u) => u.payloads.rru);
  const payloadBytes = perPath((u) => u.payloads.tableBytes);
  out.dynamoWrites =
    (wru - payloadWru) * price('dynamoWriteRequestUnit') +
    (payloadWru + dictionaryWru) * payloadPrice('dynamoWriteRequestUnit');
  out.dynamoReads =
    (rru - payloadRru) * price('dynamoReadRequestUnit') +
    payloadRru * payloadPrice('dynamoReadRequestUnit');
  out.dynamoStorage =
    (((perPath((u) => u.storedBytes) - payloadBytes) / 1e9) * price('dynamoStorageGbMonth') +
      (payloadBytes / 1e9) * payloadPrice('dynamoStorageGbMonth')) *
      months +
    (dictionaryBytes / 1e9) * payloadPrice('dynamoStorageGbMonth');
  const pitr = opts.pitr ?? facts.pitrTables > 0;
  const pitrBytes =
    (perPath((u) => u.tableBytes) - (opts.pitrOnPayloads === false ? payloadBytes : 0)) * months +
    (opts.pitrOnPayloads === false ? 0 : dictionaryBytes);
  out.dynamoPitr = pitr ? (pitrBytes / 1e9) * price('dynamoPitrGbMonth') : 0;

  // The health driver of an open circuit: one step per probe on the health machine.
  const onMachines = (of: 'transitions' | 'historyEvents') =>
    sumRetried((o) => m.transitions[o][of]) +
    t.parkedAfterExecution * m.transitions.retry1[of] +
    t.probes * m.health[`${of}PerStep`] +
    t.circuitOpenings * m.health[`${of}PerExecution`];
  const transitions = onMachines('transitions');
  const historyEvents = onMachines('historyEvents');
  const executions = retryExecutions + t.circuitOpenings;
  out.stepFunctions = transitions * price('stepFunctionsStandardTransition');
  out.xray = facts.stateMachineTracing
    ? executions * assume('xraySampledShare') * price('xrayTrace')
    : 0;
  // The delivery Lambda makes the first attempts and re-sends parked notifications; those can
  // resume a TLS session, the attempt Lambda's retries and probes are priced as full handshakes.
  const resumedShare =
    opts.tlsResumption === false
      ? 0
      : tlsResumedShare(s, {
          sessionSeconds: assume('receiverTlsSessionSeconds'),
          environments: assume('warmDeliveryEnvironments'),
        });
  const resumed = (firstAttempts + t.parked) * resumedShare;
  const wireBytes = opts.wire ?? m.wire;
  const wire = (k: keyof WireBytes) =>
    resumed * wireBytes.resumed[k] + (attempts - resumed) * wireBytes.full[k];
  out.natDataProcessed = facts.natGateways > 0 ? (wire('both') / 1e9) * price('natGatewayGb') : 0;
  // With fewer NATs than sender subnets (one NAT instance for both AZs), the attempts of the
  // other AZs reach it across AZs, both ways: billed out of one AZ and into the other.
  out.crossAzData = (crossAzShare(facts) * 2 * wire('both') * price('crossAzDataGb')) / 1e9;
  out.dataTransferOut = (wire('outbound') / 1e9) * price('dataTransferOutGb');

  // CloudWatch Logs: handler lines and EMF, Lambda platform lines, API access logs, machine logs.
  const rate = Math.min(1, Math.max(0, fn('delivery')?.logSampleRate ?? 1));
  const sentLine = rate * m.logs.sentSampled + (1 - rate) * m.logs.sentUnsampled;
  const deliveryLogBytes = (t.sent + t.parked) * sentLine + retryExecutions * m.logs.firstFailed;
  const attemptLogBytes =
    sumRetried((o) =>
      o === 'exhausted'
        ? 4 * m.logs.attemptFailed + m.logs.lastFailed
        : (Number(o.slice(-1)) - 1) * m.logs.attemptFailed + m.logs.attemptRecovered,
    ) +
    (t.parkedAfterExecution + t.probes) * m.logs.attemptFailed;
  const invocations = requests + deliveryInvocations + attemptInvocations;
  const platformLines =
    opts.platformLogLines ?? Object.values(facts.functions).some((f) => f.platformLogLines);
  const platformBytes = platformLines
    ? invocations * assume('lambdaPlatformLogBytesPerInvocation')
    : 0;
  const ingestBytes =
    requests * (assume('ingestLogBytesPerRequest') + assume('apiAccessLogBytesPerRequest'));
  const sfnLogBytes =
    facts.stateMachineLogLevel === 'OFF'
      ? 0
      : historyEvents * assume('stepFunctionsLogBytesPerEvent');
  const handlerBytes = deliveryLogBytes + attemptLogBytes;
  const logEvents =
    handlerBytes / assume('averageLogLineBytes') +
    (platformBytes > 0 ? invocations * 3 : 0) +
    requests * 2 +
    (sfnLogBytes > 0 ? historyEvents : 0);
  const logBytes = handlerBytes + platformBytes + ingestBytes + sfnLogBytes;
  out.cloudwatchLogs =
    ((logBytes + logEvents * assume('cloudwatchLogBytesOverheadPerEvent')) / 1e9) *
    price('cloudwatchLogsIngestGb');

  const perMillion: Record<string, number> = {};
  const scale = 1_000_000 / N;
  for (const [k, v] of Object.entries(out)) perMillion[k] = round(v * scale, 3);
  const total = round(Object.values(out).reduce((x, y) => x + y, 0) * scale, 3);
  return {
    perMillion,
    month: { ...out },
    total,
    traffic: t,
    volumes: {
      apiRequests: round(requests * scale),
      deliveryJobs: round(jobs * scale),
      lambdaInvocations: round(invocations * scale),
      attempts: round(attempts * scale),
      executions: round(executions * scale, 4),
      stateTransitions: round(transitions * scale),
      dynamoWru: round(wru * scale),
      dynamoRru: round(rru * scale),
      storedBytesPerNotification: round(perPath((u) => u.storedBytes) / N),
      tlsResumedAttemptShare: round(resumed / attempts),
      wireBytesPerAttempt: round(wire('both') / attempts),
      logBytesPerNotification: round(logBytes / N),
      deliveryInvocationMs: round(deliveryMs),
      attemptInvocationMs: round(attemptMs),
    },
  };
}

/** Per region per month, whatever the traffic. */
export function fixedMonthly(
  facts: StackFacts,
  prices: Record<string, Price>,
  assumptions: Record<string, number>,
): Record<string, number> {
  const h = assumptions.hoursPerMonth ?? 730;
  const price = (k: string) => priceOf(prices, k);
  const out: Record<string, number> = {
    natGateways: facts.natGateways * h * price('natGatewayHour'),
    natInstances: facts.natInstances.reduce(
      (acc, i) =>
        acc + h * price(`ec2Hour.${i.instanceType}`) + i.volumeGb * price('ebsGp3GbMonth'),
      0,
    ),
    elasticIps: facts.elasticIps * h * price('publicIpv4Hour'),
    dashboards: facts.dashboards * price('cloudwatchDashboardMonth'),
    alarms: facts.alarms * price('cloudwatchAlarmMonth'),
    kmsKeys: facts.kmsKeys * price('kmsKeyMonth'),
    // Lambda's pollers long-poll an idle queue: each receive waits up to sqsLongPollSeconds.
    sqsIdlePolling:
      facts.sqsEventSources *
      assumptionOf(assumptions, 'sqsPollersPerEventSource') *
      ((h * 3600) / assumptionOf(assumptions, 'sqsLongPollSeconds')) *
      price('sqsRequest'),
  };
  for (const [k, v] of Object.entries(out)) out[k] = round(v, 4);
  return out;
}

export const sum = (values: Record<string, number>) =>
  round(
    Object.values(values).reduce((x, y) => x + y, 0),
    4,
  );

/** Messages (events) a plan includes before its per-message price applies (same pages as the prices). */
const SVIX_PROFESSIONAL_INCLUDED = 50_000;
const HOOKDECK_TEAM_INCLUDED = 10_000;

/**
 * What `notifications` sent in one month cost at the list prices of other ways to send them
 * (the `*Reference` prices: sources and dates in prices.json). Hosted plans as the smallest
 * plan that has what this stack has by default where one exists (Svix: 90-day retention;
 * Hookdeck: fixed IPs as an add-on, 7-day retention only); Convoy's licence is flat and its
 * infrastructure comes on top.
 */
export function hostedReferences(
  prices: Record<string, Price>,
  notifications: number,
): Record<string, number> {
  const price = (k: string) => priceOf(prices, k);
  const beyond = (included: number) => Math.max(0, notifications - included);
  const out: Record<string, number> = {
    eventBridgeApiDestinations:
      notifications *
      (price('eventBridgeCustomEventReference') +
        price('eventBridgeApiDestinationInvocationReference')),
    svixProfessional:
      price('svixProfessionalMonthReference') +
      beyond(SVIX_PROFESSIONAL_INCLUDED) * price('svixMessageReference'),
    hookdeckTeamWithStaticIp:
      price('hookdeckTeamMonthReference') +
      price('hookdeckStaticIpMonthReference') +
      beyond(HOOKDECK_TEAM_INCLUDED) * price('hookdeckEventReference'),
    convoyPremiumLicence: price('convoyPremiumMonthReference'),
  };
  for (const [k, v] of Object.entries(out)) out[k] = round(v, 4);
  return out;
}
