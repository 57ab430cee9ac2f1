import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { checkPriceFile, factsOfTemplate, synthesizeStackFacts } from '../../bench/cost-facts';
import { countAllTransitions, countHealthTransitions } from '../../bench/cost-measure';
import {
  crossAzShare,
  DESIGN_HEALTH,
  fixedMonthly,
  hostedReferences,
  type Measured,
  MIXED_MONTH,
  type ModelInput,
  monthCost,
  outageRetryShares,
  type PathUnits,
  type PriceFile,
  probeCount,
  RETRY_OUTCOMES,
  type StackFacts,
  type Traffic,
  tlsResumedShare,
  trafficOf,
} from '../../bench/cost-model';
import { DEFAULT_RETRY_SCHEDULE_SECONDS } from '../../lambdas/core/retry-schedule';

const priceFile = JSON.parse(
  readFileSync(path.join(__dirname, '..', '..', 'bench', 'prices.json'), 'utf8'),
) as PriceFile;
const assumptions = Object.fromEntries(
  Object.entries(priceFile.assumptions).filter(([, v]) => typeof v === 'number'),
) as Record<string, number>;

const fn = {
  memoryMb: 512,
  architecture: 'arm64',
  logicalId: 'X',
  logSampleRate: 1,
  logLevel: 'INFO',
  platformLogLines: true,
};
const facts: StackFacts = {
  functions: { delivery: fn, attempt: fn, ingest: fn, api: fn },
  otherFunctions: 0,
  sqsBatchSize: 10,
  natGateways: 2,
  natInstances: [],
  senderSubnets: 2,
  elasticIps: 2,
  alarms: 10,
  dashboards: 1,
  kmsKeys: 1,
  interfaceEndpoints: 0,
  sqsEventSources: 1,
  pitrTables: 3,
  payloadsTableClass: 'STANDARD',
  stateMachines: 1,
  stateMachineType: 'STANDARD',
  stateMachineLogLevel: 'OFF',
  stateMachineTracing: false,
  retentionDays: 90,
  retrySchedule: DEFAULT_RETRY_SCHEDULE_SECONDS,
  deliveryConcurrency: 16,
  tlsKeyExchange: 'hybrid',
};

const units = (wru: number, indexWru = 2): PathUnits => ({
  wru,
  indexWru,
  rru: 0,
  tableBytes: 1000,
  storedBytes: 1500,
  payloads: { wru: 1, rru: 0, tableBytes: 600 },
});
/** Everything but the machines, which are run (countAllTransitions, countHealthTransitions). */
const fixture: Omit<Measured, 'transitions' | 'health'> = {
  units: {
    // As measured: request 1, notification 1, its byWebhook entry 1 (SENT has no byStatus entry).
    sent: units(3, 1),
    parked: units(9),
    ...Object.fromEntries(RETRY_OUTCOMES.map((o, i) => [o, units(6 + 2 * i)])),
  } as Measured['units'],
  logs: {
    sentUnsampled: 100,
    sentSampled: 400,
    firstFailed: 400,
    attemptRecovered: 500,
    attemptFailed: 500,
    lastFailed: 600,
  },
  cpuUs: { firstAttempt: 200, attempt: 1500, sdkCall: 400 },
  ingestMs: { batch: 40, single: 20 },
  messageBytes: 2000,
  wire: { full: { both: 8000, outbound: 2500 }, resumed: { both: 3000, outbound: 2000 } },
};
let measured: Measured;
let input: ModelInput;
beforeAll(async () => {
  measured = {
    ...fixture,
    transitions: await countAllTransitions(),
    health: await countHealthTransitions(),
  };
  input = { facts, prices: priceFile.prices, assumptions, measured };
});

describe('the price file', () => {
  it('names a source and the date it was read for every price', () => {
    expect(checkPriceFile(priceFile)).toEqual([]);
  });

  it('is refused when a price lacks its source or date', () => {
    const broken = {
      ...priceFile,
      prices: { x: { usd: 1, unit: 'thing', source: '', readOn: 'June' } },
    } as PriceFile;
    expect(checkPriceFile(broken)).toEqual(['x: source missing', 'x: readOn must be YYYY-MM-DD']);
  });
});

/** State transitions or history events of a month's traffic on both machines, from `measured`. */
function onMachines(t: Traffic, of: 'transitions' | 'historyEvents'): number {
  return (
    RETRY_OUTCOMES.reduce((n, o) => n + t.retried[o] * measured.transitions[o][of], 0) +
    t.parkedAfterExecution * measured.transitions.retry1[of] +
    t.probes * measured.health[`${of}PerStep`] +
    t.circuitOpenings * measured.health[`${of}PerExecution`]
  );
}

describe('traffic of the mixed month', () => {
  it('sends 99 % of the healthy receivers notifications at once and retries 1 % once', () => {
    const t = trafficOf(
      { ...MIXED_MONTH, outage: null },
      DEFAULT_RETRY_SCHEDULE_SECONDS,
      'perCircuit',
    );
    expect(t.sent).toBeCloseTo(990_000, 6);
    expect(t.retried.retry1).toBeCloseTo(10_000, 6);
    expect(t.parked).toBe(0);
    expect(t.probes).toBe(0);
  });

  it('parks the down receiver’s 48 hours of notifications behind one circuit with bounded probes', () => {
    const t = trafficOf(MIXED_MONTH, DEFAULT_RETRY_SCHEDULE_SECONDS, 'perCircuit');
    const outageN = (1_000_000 / 20) * (48 / 730);
    expect(t.parked).toBeCloseTo(outageN, 6);
    expect(t.parkedAfterExecution).toBe(DESIGN_HEALTH.opensAfterFailures);
    expect(t.circuitOpenings).toBe(1);
    expect(t.undelivered).toBe(0);
    // Cool-downs of 30 s doubling to 960 s (1,890 s in all), then 94 of 30 min fit in 48 h:
    // 100 failing probes and the one that closes the circuit.
    expect(probeCount(48, DESIGN_HEALTH)).toBe(101);
    expect(t.probes).toBe(101);
    expect(t.sent + t.retried.retry1 + t.parked).toBeCloseTo(1_000_000, 6);
  });

  it('without a circuit breaker retries every outage notification, and loses those older than the schedule', () => {
    const t = trafficOf(MIXED_MONTH, DEFAULT_RETRY_SCHEDULE_SECONDS, 'perNotification');
    const shares = outageRetryShares(48, DEFAULT_RETRY_SCHEDULE_SECONDS);
    const sumShares = Object.values(shares).reduce((a, b) => a + b, 0);
    expect(sumShares).toBeCloseTo(1, 12);
    // 60+300+1500+7500+37500 s = 46,860 s of retries against 172,800 s of outage.
    expect(shares.exhausted).toBeCloseTo(1 - 46_860 / 172_800, 12);
    expect(shares.retry1).toBeCloseTo(60 / 172_800, 12);
    expect(t.undelivered).toBeCloseTo(
      ((1_000_000 / 20) * (48 / 730) * (172_800 - 46_860)) / 172_800,
      6,
    );
    expect(t.parked).toBe(0);
  });

  it('counts an exhausted first-attempt failure as undelivered', () => {
    const t = trafficOf(
      { ...MIXED_MONTH, outage: null, recoverAt: 'exhausted' },
      DEFAULT_RETRY_SCHEDULE_SECONDS,
      'perCircuit',
    );
    expect(t.retried.exhausted).toBeCloseTo(10_000, 6);
    expect(t.undelivered).toBeCloseTo(10_000, 6);
  });

  it('opens no circuit and sends no probe without a circuit breaker', () => {
    const t = trafficOf(MIXED_MONTH, DEFAULT_RETRY_SCHEDULE_SECONDS, 'perNotification');
    expect(t.circuitOpenings).toBe(0);
    expect(t.probes).toBe(0);
    expect(t.parkedAfterExecution).toBe(0);
  });

  it('runs no more first attempts before the circuit opens than the outage holds notifications', () => {
    // 1,000 a month over 20 webhooks: 0.068 notifications in a one-hour outage.
    const s = { ...MIXED_MONTH, notifications: 1000, outage: { receivers: 1, hours: 1 } };
    const t = trafficOf(s, DEFAULT_RETRY_SCHEDULE_SECONDS, 'perCircuit');
    expect(t.parked).toBeCloseTo(50 / 730, 12);
    expect(t.parkedAfterExecution).toBeCloseTo(50 / 730, 12);
  });

  it('counts the probe that finds the receiver back at the end of the outage as the one that closes it', () => {
    // Open for 90 s: a probe at 30 s fails, the one at 90 s (30 + 60) closes the circuit.
    expect(probeCount(90 / 3600, DESIGN_HEALTH)).toBe(2);
    expect(probeCount(91 / 3600, DESIGN_HEALTH)).toBe(3);
  });

  it('loses nothing when the outage is shorter than the retries', () => {
    const shares = outageRetryShares(1, DEFAULT_RETRY_SCHEDULE_SECONDS);
    // 60 s, 300 s and 1,500 s, then the rest of the hour within the 7,500 s wait of retry 4.
    expect(shares.retry1).toBeCloseTo(60 / 3600, 12);
    expect(shares.retry2).toBeCloseTo(300 / 3600, 12);
    expect(shares.retry3).toBeCloseTo(1500 / 3600, 12);
    expect(shares.retry4).toBeCloseTo(1740 / 3600, 12);
    expect(shares.retry5).toBe(0);
    expect(shares.exhausted).toBe(0);
  });
});

describe('the month priced', () => {
  it('adds every service line up to the total, per million', () => {
    const b = monthCost(input, MIXED_MONTH);
    const sum = Object.values(b.perMillion).reduce((a, v) => a + v, 0);
    // Each line and the total are rounded to 3 significant digits: at most half a unit of the
    // third digit each apart.
    const slack = [b.total, ...Object.values(b.perMillion)].reduce(
      (a, v) => a + (v === 0 ? 0 : 0.5 * 10 ** (Math.ceil(Math.log10(Math.abs(v))) - 3)),
      0,
    );
    expect(Math.abs(b.total - sum)).toBeLessThanOrEqual(slack);
    expect(slack).toBeLessThan(0.05);
    expect(b.perMillion.apiGateway).toBeCloseTo(0.1, 6);
  });

  it('prices DynamoDB writes from the measured units of each path', () => {
    const calm = monthCost(input, { ...MIXED_MONTH, outage: null });
    // 990,000 x 3 + 10,000 x 6 write units at $0.625 per million.
    expect(calm.perMillion.dynamoWrites).toBeCloseTo((990_000 * 3 + 10_000 * 6) * 0.625e-6, 2);
  });

  it('prices Step Functions from the transitions of the retried notifications', () => {
    const calm = monthCost(input, { ...MIXED_MONTH, outage: null });
    const transitions = measured.transitions.retry1.transitions;
    expect(calm.perMillion.stepFunctions).toBeCloseTo(10_000 * transitions * 0.000025, 6);
    expect(calm.volumes.executions).toBeCloseTo(10_000 * measured.transitions.retry1.executions, 6);
  });

  it("prices an open circuit's health driver by the steps of its machine", () => {
    const outage = monthCost(input, MIXED_MONTH);
    const t = outage.traffic;
    const transitions = onMachines(t, 'transitions');
    expect(t.probes).toBeGreaterThan(0);
    // Volumes are rounded to 3 significant digits.
    expect(Math.abs(outage.volumes.stateTransitions! / transitions - 1)).toBeLessThan(0.005);
  });

  it('makes an outage cheap with a circuit breaker and dear without one', () => {
    const calm = monthCost(input, { ...MIXED_MONTH, outage: null }).total;
    const withCircuit = monthCost(input, MIXED_MONTH).total;
    const perNotification = monthCost(input, MIXED_MONTH, { handling: 'perNotification' }).total;
    expect(withCircuit / calm).toBeGreaterThan(1);
    expect(withCircuit / calm).toBeLessThan(1.1);
    expect(perNotification).toBeGreaterThan(withCircuit);
  });

  it('charges NAT processing only for gateways, and data transfer out for both', () => {
    const gateway = monthCost(input, MIXED_MONTH);
    const instance = monthCost(
      {
        ...input,
        facts: {
          ...facts,
          natGateways: 0,
          natInstances: [{ instanceType: 't4g.nano', volumeGb: 8 }],
        },
      },
      MIXED_MONTH,
    );
    expect(gateway.perMillion.natDataProcessed).toBeGreaterThan(0);
    expect(instance.perMillion.natDataProcessed).toBe(0);
    expect(instance.perMillion.dataTransferOut).toBe(gateway.perMillion.dataTransferOut);
  });

  it('charges cross-AZ data only when fewer NATs than sender subnets carry the attempts', () => {
    const nano = { instanceType: 't4g.nano', volumeGb: 8 };
    const month = (f: Partial<StackFacts>) =>
      monthCost({ ...input, facts: { ...facts, ...f } }, MIXED_MONTH, { tlsResumption: false });
    const gateways = month({});
    const perAz = month({ natGateways: 0, natInstances: [nano, nano] });
    const single = month({ natGateways: 0, natInstances: [nano] });
    expect(crossAzShare(facts)).toBe(0);
    expect(crossAzShare({ natGateways: 0, natInstances: [nano], senderSubnets: 2 })).toBe(0.5);
    expect(crossAzShare({ natGateways: 0, natInstances: [nano], senderSubnets: 3 })).toBeCloseTo(
      2 / 3,
    );
    expect(crossAzShare({ natGateways: 0, natInstances: [], senderSubnets: 0 })).toBe(0);
    expect(gateways.perMillion.crossAzData).toBe(0);
    expect(perAz.perMillion.crossAzData).toBe(0);
    // Half the attempts (every one at the full handshake's 8,000 B) cross, billed on both sides.
    const attempts = single.volumes.attempts ?? 0;
    expect(single.perMillion.crossAzData).toBeCloseTo(
      ((0.5 * attempts * 8000 * 2) / 1e9) * priceFile.prices.crossAzDataGb!.usd,
      4,
    );
    expect(single.total).toBeGreaterThan(perAz.total);
  });

  it('prices the delivery Lambda attempts that resume a TLS session at the resumed bytes', () => {
    const resuming = monthCost(input, MIXED_MONTH);
    const full = monthCost(input, MIXED_MONTH, { tlsResumption: false });
    const t = resuming.traffic;
    const attempts = resuming.volumes.attempts ?? 0;
    // Every attempt at the full handshake's bytes.
    expect(full.perMillion.natDataProcessed).toBeCloseTo(
      ((attempts * 8000) / 1e9) * priceFile.prices.natGatewayGb!.usd,
      3,
    );
    expect(full.perMillion.dataTransferOut).toBeCloseTo(
      ((attempts * 2500) / 1e9) * priceFile.prices.dataTransferOutGb!.usd,
      3,
    );
    // Only first attempts and re-sent parked notifications resume; retries and probes do not.
    const share = tlsResumedShare(MIXED_MONTH, {
      sessionSeconds: assumptions.receiverTlsSessionSeconds!,
      environments: assumptions.warmDeliveryEnvironments!,
    });
    const resumed = (1_000_000 - t.parked + t.parkedAfterExecution + t.parked) * share;
    expect(resuming.perMillion.natDataProcessed).toBeCloseTo(
      (((attempts - resumed) * 8000 + resumed * 3000) / 1e9) * priceFile.prices.natGatewayGb!.usd,
      3,
    );
    expect(resuming.volumes.tlsResumedAttemptShare).toBeLessThan(share);
    expect(resuming.total).toBeLessThan(full.total);
  });

  it('resumes more often the denser a receiver’s traffic and the longer its sessions live', () => {
    const base = { sessionSeconds: 300, environments: 2 };
    // 50,000 a month per webhook over 2 environments: one every 105 s per environment.
    expect(tlsResumedShare(MIXED_MONTH, base)).toBeCloseTo(1 - Math.exp(-300 / 105.12), 3);
    expect(tlsResumedShare({ ...MIXED_MONTH, webhooks: 2000 }, base)).toBeLessThan(0.05);
    expect(tlsResumedShare(MIXED_MONTH, { ...base, environments: 16 })).toBeLessThan(
      tlsResumedShare(MIXED_MONTH, base),
    );
    expect(tlsResumedShare(MIXED_MONTH, { ...base, sessionSeconds: 0 })).toBe(0);
  });

  it('logs the sampled share of successes in full and the rest at the unsampled size', () => {
    const all = monthCost(input, MIXED_MONTH);
    const sampled = monthCost(
      {
        ...input,
        facts: {
          ...facts,
          functions: {
            ...facts.functions,
            delivery: { ...fn, logSampleRate: 0.01 },
          },
        },
      },
      MIXED_MONTH,
    );
    expect(sampled.perMillion.cloudwatchLogs).toBeLessThan(all.perMillion.cloudwatchLogs!);
    // A rate outside 0..1 counts as the nearest end.
    const atRate = (logSampleRate: number) =>
      monthCost(
        {
          ...input,
          facts: {
            ...facts,
            functions: { ...facts.functions, delivery: { ...fn, logSampleRate } },
          },
        },
        MIXED_MONTH,
      ).month.cloudwatchLogs;
    expect(atRate(5)).toBe(atRate(1));
    expect(atRate(-1)).toBe(atRate(0));
  });

  it('stores history for the retention period, PITR on the table bytes only', () => {
    const b = monthCost(input, { ...MIXED_MONTH, outage: null });
    const months = 90 / (730 / 24);
    expect(b.perMillion.dynamoStorage).toBeCloseTo((1_000_000 * 1500 * months * 0.25) / 1e9, 3);
    expect(b.perMillion.dynamoPitr).toBeCloseTo((1_000_000 * 1000 * months * 0.2) / 1e9, 3);
    expect(monthCost(input, MIXED_MONTH, { pitr: false }).perMillion.dynamoPitr).toBe(0);
  });

  it('without PITR on the Payloads table, prices PITR on the other tables only', () => {
    const calm = { ...MIXED_MONTH, outage: null };
    const all = monthCost(input, calm);
    const some = monthCost(input, calm, { pitrOnPayloads: false });
    const months = 90 / (730 / 24);
    // 1000 table bytes per notification, 600 of them in the Payloads table.
    expect(some.perMillion.dynamoPitr).toBeCloseTo((1_000_000 * 400 * months * 0.2) / 1e9, 3);
    // Nothing else changes.
    for (const [line, usd] of Object.entries(all.perMillion))
      if (line !== 'dynamoPitr') expect([line, some.perMillion[line]]).toEqual([line, usd]);
  });

  it("prices each webhook's compression dictionary: a write per 30 days, kept for the retention and one period more", () => {
    const calm = { ...MIXED_MONTH, outage: null };
    const without = monthCost(input, calm);
    const withDictionary = monthCost(
      { ...input, measured: { ...measured, dictionary: { wru: 1, tableBytes: 741 } } },
      calm,
    );
    // The fixture's Payloads table is in the Standard class.
    const usd = (k: string) => priceFile.prices[k]!.usd;
    const writes = 20 * (730 / 24 / 30) * 1;
    const items = 20 * (90 / 30 + 1);
    const more = (line: string) =>
      (withDictionary.month[line] ?? Number.NaN) - (without.month[line] ?? Number.NaN);
    expect(more('dynamoWrites')).toBeCloseTo(writes * usd('dynamoWriteRequestUnit'), 9);
    expect(more('dynamoStorage')).toBeCloseTo(
      ((items * 741) / 1e9) * usd('dynamoStorageGbMonth'),
      9,
    );
    expect(more('dynamoPitr')).toBeCloseTo(((items * 741) / 1e9) * 0.2, 9);
    const noPitrOnPayloads = (m: Measured) =>
      monthCost({ ...input, measured: m }, calm, { pitrOnPayloads: false }).month.dynamoPitr;
    expect(noPitrOnPayloads({ ...measured, dictionary: { wru: 1, tableBytes: 741 } })).toBe(
      noPitrOnPayloads(measured),
    );
  });

  it('without the platform lines, prices the logs without a line set per invocation', () => {
    const withLines = monthCost(input, MIXED_MONTH);
    const without = monthCost(input, MIXED_MONTH, { platformLogLines: false });
    const invocations = withLines.volumes.lambdaInvocations ?? 0;
    const perInvocation =
      assumptions.lambdaPlatformLogBytesPerInvocation! +
      3 * assumptions.cloudwatchLogBytesOverheadPerEvent!;
    expect(withLines.perMillion.cloudwatchLogs! - without.perMillion.cloudwatchLogs!).toBeCloseTo(
      ((invocations * perInvocation) / 1e9) * priceFile.prices.cloudwatchLogsIngestGb!.usd,
      2,
    );
    // The stack's own setting decides when the option is not given.
    const off = monthCost(
      {
        ...input,
        facts: {
          ...facts,
          functions: Object.fromEntries(
            Object.entries(facts.functions).map(([k, f]) => [k, { ...f, platformLogLines: false }]),
          ),
        },
      },
      MIXED_MONTH,
    );
    expect(off.perMillion.cloudwatchLogs).toBeCloseTo(without.perMillion.cloudwatchLogs!, 6);
  });

  it('prices the wire at the bytes given for another key exchange, NAT and transfer out alike', () => {
    const base = monthCost(input, MIXED_MONTH);
    const halved = monthCost(input, MIXED_MONTH, {
      wire: {
        full: { both: 4000, outbound: 1250 },
        resumed: { both: 1500, outbound: 1000 },
      },
    });
    // Half the bytes, half the price of each (lines are rounded to 3 significant digits).
    for (const line of ['natDataProcessed', 'dataTransferOut'])
      expect([line, halved.perMillion[line]! / base.perMillion[line]!]).toEqual([
        line,
        expect.closeTo(0.5, 2),
      ]);
    expect(halved.perMillion.dynamoWrites).toBe(base.perMillion.dynamoWrites);
  });

  it('prices the Payloads table share at the Standard-IA class when the stack sets it', () => {
    const calm = { ...MIXED_MONTH, outage: null };
    const std = monthCost(input, calm);
    const ia = monthCost(input, calm, { payloadsTableClass: 'STANDARD_INFREQUENT_ACCESS' });
    const months = 90 / (730 / 24);
    // One payload write unit and 600 stored bytes per notification move to the IA prices.
    expect(ia.perMillion.dynamoWrites! - std.perMillion.dynamoWrites!).toBeCloseTo(
      1_000_000 * (0.78125e-6 - 0.625e-6),
      2,
    );
    expect(std.perMillion.dynamoStorage! - ia.perMillion.dynamoStorage!).toBeCloseTo(
      (1_000_000 * 600 * months * (0.25 - 0.1)) / 1e9,
      2,
    );
    // PITR is priced on table size whatever the class.
    expect(ia.perMillion.dynamoPitr).toBe(std.perMillion.dynamoPitr);
  });

  it('prices reads of the Payloads table at its class and the other reads at Standard', () => {
    const calm = { ...MIXED_MONTH, outage: null };
    // Every path reads 3 units, 1 of them from the Payloads table.
    const reading = Object.fromEntries(
      Object.entries(measured.units).map(([path, u]) => [
        path,
        { ...u, rru: 3, payloads: { ...u.payloads, rru: 1 } },
      ]),
    ) as Measured['units'];
    const usd = (k: string) => priceFile.prices[k]!.usd;
    const ia = monthCost({ ...input, measured: { ...measured, units: reading } }, calm, {
      payloadsTableClass: 'STANDARD_INFREQUENT_ACCESS',
    });
    expect(ia.month.dynamoReads).toBeCloseTo(
      1_000_000 * (2 * usd('dynamoReadRequestUnit') + usd('dynamoReadRequestUnitIa')),
      9,
    );
  });

  it('counts every attempt: first ones, retries, probes and re-sent parked notifications', () => {
    for (const handling of ['perCircuit', 'perNotification'] as const) {
      const b = monthCost(input, MIXED_MONTH, { handling });
      const t = b.traffic;
      const retries = RETRY_OUTCOMES.reduce(
        (n, o, i) => n + t.retried[o] * (o === 'exhausted' ? 5 : i + 1),
        0,
      );
      const first = 1_000_000 - t.parked + t.parkedAfterExecution;
      const expected = first + retries + t.parkedAfterExecution + t.probes + t.parked;
      expect([handling, b.volumes.attempts]).toEqual([handling, Math.round(expected)]);
      // Delivery jobs: every notification once, a parked one twice.
      expect([handling, b.volumes.deliveryJobs]).toEqual([
        handling,
        Math.round(1_000_000 + t.parked),
      ]);
    }
  });

  it('prices ingest at the single-event duration when each POST carries one event', () => {
    const usd = priceFile.prices.lambdaGbSecondArm64!.usd;
    const single = monthCost(input, { ...MIXED_MONTH, eventsPerRequest: 1 });
    const batch = monthCost(input, MIXED_MONTH);
    // 512 MB: 0.5 GB-s per second. Fixture: 20 ms for one event, 40 ms for a batch.
    expect(single.month.lambdaDurationIngest).toBeCloseTo(1_000_000 * 0.02 * 0.5 * usd, 9);
    expect(batch.month.lambdaDurationIngest).toBeCloseTo(100_000 * 0.04 * 0.5 * usd, 9);
  });

  it("prices the queue's requests: a send per POST, a receive and a delete per batch, parked ones sent again in tens", () => {
    // 10,000 B a job: a batch of 10 takes two 64 KiB request chunks, a single job one.
    const b = monthCost(
      {
        ...input,
        facts: { ...facts, sqsBatchSize: 1 },
        measured: { ...measured, messageBytes: 10_000 },
      },
      MIXED_MONTH,
    );
    const parked = b.traffic.parked;
    const requests = 100_000 * 2 + (1_000_000 + parked) * (1 + 1) + (parked / 10) * 2;
    expect(b.month.sqs).toBeCloseTo(requests * priceFile.prices.sqsRequest!.usd, 9);
  });

  it('follows the stack for PITR and tracing: none without tables that have it, X-Ray only when traced', () => {
    const calm = { ...MIXED_MONTH, outage: null };
    const noPitr = monthCost({ ...input, facts: { ...facts, pitrTables: 0 } }, calm);
    expect(noPitr.month.dynamoPitr).toBe(0);
    expect(monthCost(input, calm).month.xray).toBe(0);
    const traced = monthCost({ ...input, facts: { ...facts, stateMachineTracing: true } }, calm);
    const executions = 10_000 * measured.transitions.retry1.executions;
    expect(traced.month.xray).toBeCloseTo(
      executions * assumptions.xraySampledShare! * priceFile.prices.xrayTrace!.usd,
      9,
    );
  });

  it("logs the machines' history events only when their log level is not OFF", () => {
    const off = monthCost(input, MIXED_MONTH);
    const all = monthCost(
      { ...input, facts: { ...facts, stateMachineLogLevel: 'ALL' } },
      MIXED_MONTH,
    );
    const t = off.traffic;
    const events = onMachines(t, 'historyEvents');
    const perEvent =
      assumptions.stepFunctionsLogBytesPerEvent! + assumptions.cloudwatchLogBytesOverheadPerEvent!;
    expect(all.month.cloudwatchLogs! - off.month.cloudwatchLogs!).toBeCloseTo(
      ((events * perEvent) / 1e9) * priceFile.prices.cloudwatchLogsIngestGb!.usd,
      9,
    );
  });

  it('resumes TLS sessions on the first attempts and on the parked notifications sent again', () => {
    const b = monthCost(input, MIXED_MONTH);
    const t = b.traffic;
    const share = tlsResumedShare(MIXED_MONTH, {
      sessionSeconds: assumptions.receiverTlsSessionSeconds!,
      environments: assumptions.warmDeliveryEnvironments!,
    });
    const first = 1_000_000 - t.parked + t.parkedAfterExecution;
    const resumed = (first + t.parked) * share;
    const attempts = first + t.retried.retry1 * 1 + t.parkedAfterExecution + t.probes + t.parked;
    expect(b.month.dataTransferOut).toBeCloseTo(
      ((resumed * 2000 + (attempts - resumed) * 2500) / 1e9) *
        priceFile.prices.dataTransferOutGb!.usd,
      9,
    );
  });

  it('prices the Lambdas that send by their invocations and modelled durations', () => {
    const a = (k: string) => assumptions[k]!;
    const usd = priceFile.prices.lambdaGbSecondArm64!.usd;
    const calm = monthCost(input, { ...MIXED_MONTH, outage: null });
    // 512 MB runs at 512/1769 of a vCPU: CPU time stretches by 1769/512.
    const stretch = a('lambdaFullVcpuMemoryMb') / 512 / a('cpuSpeedVsThisMachine');
    // 10,000 retry executions among 1,000,000 jobs: the share of batches of 10 that start one.
    const failInBatch =
      1 - (1 - (10_000 * measured.transitions.retry1.executions) / 1_000_000) ** 10;
    const deliveryMs =
      (10 * 200 * stretch) / 1000 +
      2 * a('dynamoCallMs') +
      a('receiverResponseMs') +
      failInBatch * a('stepFunctionsStartMs');
    expect(calm.month.lambdaDurationDelivery).toBeCloseTo(
      100_000 * (deliveryMs / 1000) * 0.5 * usd,
      9,
    );
    const attemptMs =
      (1500 * stretch) / 1000 + 3 * a('dynamoCallMs') + a('failedReceiverResponseMs');
    expect(calm.month.lambdaDurationAttempt).toBeCloseTo(
      10_000 * measured.transitions.retry1.taskInvocations * (attemptMs / 1000) * 0.5 * usd,
      9,
    );
  });

  it("counts the probes' writes of the circuit state", () => {
    const b = monthCost(input, MIXED_MONTH);
    const t = b.traffic;
    // Fixture units: 3 a notification sent at once, 6 one sent at its first retry, 9 a parked one.
    const wru = t.sent * 3 + t.retried.retry1 * 6 + t.parked * 9;
    expect(b.volumes.dynamoWru).toBe(Math.round(wru + t.probes * DESIGN_HEALTH.writeUnitsPerProbe));
  });

  it('logs four failed attempts and the last one of a notification whose retries are exhausted', () => {
    const s = { ...MIXED_MONTH, outage: null, recoverAt: 'exhausted' as const };
    const logs = (attemptFailed: number) =>
      monthCost(
        { ...input, measured: { ...measured, logs: { ...measured.logs, attemptFailed } } },
        s,
      ).month.cloudwatchLogs!;
    // 1,000 more bytes per failed attempt; each line of them is billed its overhead too.
    const bytes = 10_000 * 4 * 1000;
    const billed =
      bytes *
      (1 + assumptions.cloudwatchLogBytesOverheadPerEvent! / assumptions.averageLogLineBytes!);
    expect(logs(1500) - logs(500)).toBeCloseTo(
      (billed / 1e9) * priceFile.prices.cloudwatchLogsIngestGb!.usd,
      9,
    );
  });

  it('logs a failed attempt for each probe and each first attempt before the circuit opened', () => {
    const logs = (attemptFailed: number) =>
      monthCost(
        { ...input, measured: { ...measured, logs: { ...measured.logs, attemptFailed } } },
        MIXED_MONTH,
      );
    const t = logs(500).traffic;
    // Retries at the first retry log no failed attempt: only the outage's attempts change.
    const billed =
      (t.parkedAfterExecution + t.probes) *
      1000 *
      (1 + assumptions.cloudwatchLogBytesOverheadPerEvent! / assumptions.averageLogLineBytes!);
    expect(logs(1500).month.cloudwatchLogs! - logs(500).month.cloudwatchLogs!).toBeCloseTo(
      (billed / 1e9) * priceFile.prices.cloudwatchLogsIngestGb!.usd,
      9,
    );
  });

  it('stores history for the retention the option asks for instead of the stack’s', () => {
    const b = monthCost(input, { ...MIXED_MONTH, outage: null }, { retentionDays: 30 });
    const months = 30 / (730 / 24);
    expect(b.month.dynamoStorage).toBeCloseTo((1_000_000 * 1500 * months * 0.25) / 1e9, 9);
  });

  it('sends no attempt across AZs when there are at least as many NATs as sender subnets', () => {
    const nano = { instanceType: 't4g.nano', volumeGb: 8 };
    expect(crossAzShare({ natGateways: 2, natInstances: [nano], senderSubnets: 2 })).toBe(0);
  });
});

describe('fixed cost per region', () => {
  it('prices two NAT gateways with their Elastic IPs', () => {
    const f = fixedMonthly(facts, priceFile.prices, assumptions);
    expect(f.natGateways).toBeCloseTo(2 * 730 * 0.045, 6);
    expect(f.elasticIps).toBeCloseTo(2 * 730 * 0.005, 6);
    expect(f.natInstances).toBe(0);
    expect(f.dashboards).toBeCloseTo(priceFile.prices.cloudwatchDashboardMonth!.usd, 6);
    expect(f.dashboards).toBeGreaterThan(0);
  });

  it("prices the queue pollers' receives, which go on with no traffic", () => {
    const f = fixedMonthly(facts, priceFile.prices, assumptions);
    // 5 pollers, a 20 s long poll each, all month: 657,000 receives at $0.40 per million.
    expect(f.sqsIdlePolling).toBeCloseTo(((5 * 730 * 3600) / 20) * 0.4e-6, 6);
    expect(
      fixedMonthly({ ...facts, sqsEventSources: 0 }, priceFile.prices, assumptions).sqsIdlePolling,
    ).toBe(0);
  });

  it('prices NAT instances by type and volume', () => {
    const f = fixedMonthly(
      {
        ...facts,
        natGateways: 0,
        natInstances: [
          { instanceType: 't4g.nano', volumeGb: 8 },
          { instanceType: 't4g.nano', volumeGb: 8 },
        ],
      },
      priceFile.prices,
      assumptions,
    );
    expect(f.natGateways).toBe(0);
    expect(f.natInstances).toBeCloseTo(2 * (730 * 0.0042 + 8 * 0.08), 6);
  });
});

describe('the same month elsewhere', () => {
  it('prices hosted plans from their list prices, included messages first', () => {
    const r = hostedReferences(priceFile.prices, 1_000_000);
    // $490 with 50,000 included, then $0.0001 per message.
    expect(r.svixProfessional).toBeCloseTo(490 + 950_000 * 0.0001, 6);
    // $39 with 10,000 included, $1 per 100k beyond, $100 for static IPs.
    expect(r.hookdeckTeamWithStaticIp).toBeCloseTo(39 + 100 + 990_000 * 0.00001, 6);
    expect(r.eventBridgeApiDestinations).toBeCloseTo(1.2, 6);
    expect(hostedReferences(priceFile.prices, 10_000).svixProfessional).toBe(490);
  });
});

describe('fixed cost of the synthesized NAT instance layouts', () => {
  // Synthesized once: the figures follow whatever the stack holds.
  const layouts = {
    perAz: synthesizeStackFacts({ natProvider: 'instance' }),
    single: synthesizeStackFacts({ natProvider: 'instance', natInstances: 'single' }),
  };
  const usd = (name: string) => priceFile.prices[name]!.usd;
  const h = assumptions.hoursPerMonth ?? 730;
  const instanceMonth = (i: { instanceType: string; volumeGb: number }) =>
    h * usd(`ec2Hour.${i.instanceType}`) + i.volumeGb * usd('ebsGp3GbMonth');

  it('reads one NAT instance and one Elastic IP for single, one per AZ for perAz, one KMS key in both', () => {
    expect(layouts.single.natInstances).toHaveLength(1);
    expect(layouts.single.elasticIps).toBe(1);
    expect(layouts.perAz.natInstances).toHaveLength(2);
    expect(layouts.perAz.elasticIps).toBe(2);
    expect([layouts.perAz.kmsKeys, layouts.single.kmsKeys]).toEqual([1, 1]);
    // The delivery queue's event source mapping.
    expect([layouts.perAz.sqsEventSources, layouts.single.sqsEventSources]).toEqual([1, 1]);
    expect(layouts.single.dashboards).toBe(layouts.perAz.dashboards);
  });

  it('prices each layout from its facts', () => {
    for (const facts of Object.values(layouts)) {
      const f = fixedMonthly(facts, priceFile.prices, assumptions);
      expect(f.natInstances).toBeCloseTo(
        facts.natInstances.reduce((acc, i) => acc + instanceMonth(i), 0),
        3,
      );
      expect(f.elasticIps).toBeCloseTo(facts.elasticIps * h * usd('publicIpv4Hour'), 3);
      expect(f.alarms).toBeCloseTo(facts.alarms * usd('cloudwatchAlarmMonth'), 3);
      expect(f.kmsKeys).toBeCloseTo(facts.kmsKeys * usd('kmsKeyMonth'), 3);
      expect(f.natGateways).toBe(0);
    }
  });

  it('single saves one instance with its volume, one Elastic IP and the per-instance alarms', () => {
    const perAz = fixedMonthly(layouts.perAz, priceFile.prices, assumptions);
    const single = fixedMonthly(layouts.single, priceFile.prices, assumptions);
    const alarmsSaved = layouts.perAz.alarms - layouts.single.alarms;
    expect(alarmsSaved).toBeGreaterThan(0);
    // Parts added unrounded (sum() keeps four significant digits).
    const total = (parts: Record<string, number>) => Object.values(parts).reduce((x, y) => x + y);
    expect(total(perAz) - total(single)).toBeCloseTo(
      instanceMonth(layouts.perAz.natInstances[1]!) +
        h * usd('publicIpv4Hour') +
        alarmsSaved * usd('cloudwatchAlarmMonth'),
      3,
    );
  });
});

describe('facts of a template', () => {
  it('reads NAT instances from Auto Scaling groups and their launch templates', () => {
    const f = factsOfTemplate({
      Lt: {
        Type: 'AWS::EC2::LaunchTemplate',
        Properties: {
          LaunchTemplateData: {
            InstanceType: 't4g.nano',
            BlockDeviceMappings: [{ Ebs: { VolumeSize: 8 } }],
          },
        },
      },
      Asg: {
        Type: 'AWS::AutoScaling::AutoScalingGroup',
        Properties: { DesiredCapacity: '1', LaunchTemplate: { LaunchTemplateId: { Ref: 'Lt' } } },
      },
      Eip: { Type: 'AWS::EC2::EIP' },
    });
    expect(f.natInstances).toEqual([{ instanceType: 't4g.nano', volumeGb: 8 }]);
    expect(f.elasticIps).toBe(1);
    expect(f.natGateways).toBe(0);
  });

  it("reads the senders' key exchange from the delivery Lambda, hybrid when it sets none", () => {
    const delivery = (variables: Record<string, string>) => ({
      DeliveryDeliveryFunction7D58EC20: {
        Type: 'AWS::Lambda::Function',
        Properties: { MemorySize: 512, Environment: { Variables: variables } },
      },
    });
    expect(factsOfTemplate(delivery({})).tlsKeyExchange).toBe('hybrid');
    expect(factsOfTemplate(delivery({ TLS_KEY_EXCHANGE: 'classical' })).tlsKeyExchange).toBe(
      'classical',
    );
  });

  it('reads the Payloads table class, Standard when the template sets none', () => {
    const table = (TableClass?: string) => ({
      Type: 'AWS::DynamoDB::Table',
      Properties: TableClass === undefined ? {} : { TableClass },
    });
    expect(factsOfTemplate({ TablesPayloadsTable1: table() }).payloadsTableClass).toBe('STANDARD');
    expect(
      factsOfTemplate({
        TablesNotificationsTable2: table('STANDARD'),
        TablesPayloadsTable1: table('STANDARD_INFREQUENT_ACCESS'),
      }).payloadsTableClass,
    ).toBe('STANDARD_INFREQUENT_ACCESS');
  });
});
