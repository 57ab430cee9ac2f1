/**
 * Cost benchmark: the mixed month (bench/cost-model.ts MIXED_MONTH) priced at us-east-1 list
 * prices (bench/prices.json) for both NAT choices, from
 *  - facts: the CDK app synthesized in-process for each `natProvider` (bench/cost-facts.ts);
 *  - measurements: DynamoDB units reported by DynamoDB Local for the real store adapters,
 *    state transitions of the synthesized machines (the retry chain, an execution per retry,
 *    and the health driver), log bytes of the real handlers, wire
 *    bytes of an attempt (bench/cost-measure.ts); Lambda CPU per notification from the delivery
 *    benchmark and ingest duration from the e2e benchmark (this run, else bench/results.json);
 *  - what cannot be measured here: prices.json "assumptions".
 */

import { CLASSICAL_KEY_EXCHANGE_GROUPS } from '../lambdas/adapters/http-sender';
import { required } from '../lambdas/core/required';
import { loadPrices, synthesizeStackFacts } from './cost-facts';
import {
  countAllTransitions,
  countHealthTransitions,
  type DynamoMeasure,
  type DynamoPaths,
  measureDynamo,
  measureLogs,
  measureWire,
} from './cost-measure';
import {
  type Breakdown,
  fixedMonthly,
  hostedReferences,
  type Measured,
  MIXED_MONTH,
  type ModelInput,
  monthCost,
  sum,
} from './cost-model';
import { referenceDefinition, referenceEvent } from './fixtures/reference';
import { startReceiverProcess } from './support/receiver';
import { round } from './support/stats';
import type { Benchmark, BenchOptions, BenchResult, Row } from './support/types';

const GOALS = {
  costPerMillionUsd: 5.0,
  outageCostRatio: 1.1,
  writeUnitsPerNotification: 3.0,
  /** On the cheapest layout that keeps the sender IPs: one NAT instance for both AZs. */
  fixedMonthlySingleNatUsd: 15,
};

/** One fixed-cost row: the total, its non-zero parts as the reference (after `before`). */
function fixedRow(label: string, key: string, parts: Record<string, number>, before = ''): Row {
  const breakdown = Object.entries(parts)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return { label, key, value: sum(parts), unit: 'USD', reference: before + breakdown };
}

export const costBenchmark: Benchmark = {
  name: 'cost',
  title: 'Cost of the mixed month (us-east-1 list prices, synthesized stack, measured units)',
  async run(opts: BenchOptions): Promise<BenchResult> {
    const priceFile = loadPrices();
    const a = Object.fromEntries(
      Object.entries(priceFile.assumptions).filter(([, v]) => typeof v === 'number'),
    ) as Record<string, number>;
    const notes: string[] = [];

    const t0 = performance.now();
    const facts = synthesizeStackFacts({ natProvider: 'gateway' });
    const instanceFacts = synthesizeStackFacts({ natProvider: 'instance' });
    const singleNatFacts = synthesizeStackFacts({
      natProvider: 'instance',
      natInstances: 'single',
    });
    opts.log(
      `stacks synthesized in ${Math.round(performance.now() - t0)} ms: ${Object.entries(
        facts.functions,
      )
        .map(([n, f]) => `${n} ${f.memoryMb} MB ${f.architecture} log sample ${f.logSampleRate}`)
        .join(
          ', ',
        )}; batch ${facts.sqsBatchSize}; NAT gateways ${facts.natGateways} / instances ${instanceFacts.natInstances.map((i) => i.instanceType).join('+') || 'none'} / single ${singleNatFacts.natInstances.map((i) => i.instanceType).join('+') || 'none'}; EIPs ${facts.elasticIps}, alarms ${facts.alarms}, dashboards ${facts.dashboards}, KMS ${facts.kmsKeys}, state machines ${facts.stateMachines}`,
    );
    if (instanceFacts.natInstances.length === 0 || singleNatFacts.natInstances.length !== 1)
      notes.push(
        'natProvider=instance synthesized no NAT instance (or natInstances=single not one): its figures are not those of the layout',
      );

    const transitions = await countAllTransitions();
    const healthTransitions = await countHealthTransitions();
    opts.log(
      `state transitions per retried notification (executions): ${Object.entries(transitions)
        .map(([o, c]) => `${o} ${c.transitions} (${c.executions})`)
        .join(
          ', ',
        )}; health driver ${healthTransitions.transitionsPerStep} per step + ${healthTransitions.transitionsPerExecution} per execution`,
    );

    const receiver = await startReceiverProcess(opts.procs);
    let units: DynamoPaths;
    let dictionary: DynamoMeasure['dictionary'];
    let logs: Measured['logs'];
    try {
      ({ paths: units, dictionary } = await measureDynamo(opts, receiver.url));
      logs = await measureLogs(receiver.url, facts.sqsBatchSize);
      opts.log(`log bytes: ${JSON.stringify(logs)}`);
    } finally {
      await receiver.stop();
    }

    // CPU per notification from the delivery benchmark (this run, else results.json).
    const cpu = (key: string, fallback: number) => {
      const v = opts.previous(key);
      if (v === undefined)
        notes.push(`${key} not measured yet (run the delivery benchmark): assumed ${fallback} us`);
      return v ?? fallback;
    };
    const firstMem = cpu('deliveryCpuUsPerOp.firstAttemptMemory', 150);
    const attemptMem = cpu('deliveryCpuUsPerOp.attemptMemory', 100);
    const attemptDyn = cpu('deliveryCpuUsPerOp.attemptDynamo', 1500);
    // The resend path makes 3 DynamoDB calls (notification get, payload get, attempt update; the definition is cached).
    const sdkCall = Math.max(0, (attemptDyn - attemptMem) / 3);
    const ingestBatch = opts.previous('e2eIngestBatchP50Ms');
    const ingestSingle = opts.previous('e2eIngestP50Ms');
    if (ingestBatch === undefined || ingestSingle === undefined)
      notes.push(
        `ingest duration not measured yet (run the e2e benchmark): assumed ${a.ingestDurationMsFallback} ms per invocation`,
      );
    const def = referenceDefinition('https://ledger.example.com');
    const messageBytes = Buffer.byteLength(
      JSON.stringify({
        kind: 'deliver',
        notificationId: 'ntf_ABCDEFGHIJKLMNOPQRSTUVWXYZ',
        webhookId: def.id,
        event: referenceEvent(5),
      }),
    );
    const wire = await measureWire(def, {
      responseHeaderBytes: required(a.responseHeaderBytes, 'a.responseHeaderBytes'),
    });
    opts.log(
      `wire bytes per attempt (certificates ${wire.chainBytes.join(' + ')} B): full handshake ${JSON.stringify(wire.full)}, resumed ${JSON.stringify(wire.resumed)}`,
    );
    if (!wire.sessionResumed)
      notes.push(
        'the sender did not resume its TLS session on a new connection: every attempt priced with a full handshake',
      );
    // The same attempt with a classical key exchange only (what-if: no post-quantum share).
    const classicalWire = await measureWire(def, {
      responseHeaderBytes: required(a.responseHeaderBytes, 'a.responseHeaderBytes'),
      keyExchange: 'classical',
    });
    opts.log(
      `wire bytes per attempt with a classical key exchange (${CLASSICAL_KEY_EXCHANGE_GROUPS}): full handshake ${JSON.stringify(classicalWire.full)}, resumed ${JSON.stringify(classicalWire.resumed)}`,
    );
    // The same attempt with the hybrid share on resumptions too (what-if: hybridEveryHandshake).
    const everyHandshakeWire = await measureWire(def, {
      responseHeaderBytes: required(a.responseHeaderBytes, 'a.responseHeaderBytes'),
      keyExchange: 'hybridEveryHandshake',
    });
    opts.log(
      `wire bytes per attempt with the hybrid share on every handshake: full handshake ${JSON.stringify(everyHandshakeWire.full)}, resumed ${JSON.stringify(everyHandshakeWire.resumed)}`,
    );
    // Against a receiver without the hybrid group (most today), with and without the sender's
    // key-share prediction: the hybrid share is dropped for it after the first handshake.
    const classicalReceiverWire = async (predictKeyShares: boolean) =>
      measureWire(def, {
        responseHeaderBytes: required(a.responseHeaderBytes, 'a.responseHeaderBytes'),
        receiverGroups: CLASSICAL_KEY_EXCHANGE_GROUPS,
        predictKeyShares,
      });
    const oldReceiverWire = await classicalReceiverWire(true);
    const oldReceiverUnpredictedWire = await classicalReceiverWire(false);
    opts.log(
      `wire bytes per attempt to a receiver without the hybrid group (${CLASSICAL_KEY_EXCHANGE_GROUPS}): full handshake ${JSON.stringify(oldReceiverWire.full)}, resumed ${JSON.stringify(oldReceiverWire.resumed)} (${JSON.stringify(oldReceiverUnpredictedWire.resumed)} without key-share prediction)`,
    );
    const measured: Measured = {
      units,
      transitions,
      health: healthTransitions,
      logs,
      cpuUs: { firstAttempt: firstMem + 2 * sdkCall, attempt: attemptDyn, sdkCall },
      ingestMs: {
        batch: ingestBatch ?? required(a.ingestDurationMsFallback, 'a.ingestDurationMsFallback'),
        single: ingestSingle ?? required(a.ingestDurationMsFallback, 'a.ingestDurationMsFallback'),
      },
      messageBytes,
      dictionary,
      // The bytes of the key exchange the stack's senders offer (TLS_KEY_EXCHANGE).
      wire: {
        hybrid: { full: wire.full, resumed: wire.resumed },
        hybridEveryHandshake: {
          full: everyHandshakeWire.full,
          resumed: everyHandshakeWire.resumed,
        },
        classical: { full: classicalWire.full, resumed: classicalWire.resumed },
      }[facts.tlsKeyExchange],
    };
    const input: ModelInput = { facts, prices: priceFile.prices, assumptions: a, measured };
    const instanceInput: ModelInput = { ...input, facts: instanceFacts };

    const mixed = monthCost(input, MIXED_MONTH);
    const mixedInstance = monthCost(instanceInput, MIXED_MONTH);
    const mixedSingleNat = monthCost({ ...input, facts: singleNatFacts }, MIXED_MONTH);
    const calm = monthCost(input, { ...MIXED_MONTH, outage: null });
    const perNotification = monthCost(input, MIXED_MONTH, { handling: 'perNotification' });
    const single = monthCost(input, { ...MIXED_MONTH, eventsPerRequest: 1 });
    const whatIf: Record<string, Breakdown> = {
      noPitr: monthCost(input, MIXED_MONTH, { pitr: false }),
      retention30Days: monthCost(input, MIXED_MONTH, { retentionDays: 30 }),
      payloadsStandardClass: monthCost(input, MIXED_MONTH, { payloadsTableClass: 'STANDARD' }),
      outageWithoutCircuitBreaker: perNotification,
      everyAttemptFullTlsHandshake: monthCost(input, MIXED_MONTH, { tlsResumption: false }),
      noPitrOnPayloads: monthCost(input, MIXED_MONTH, { pitrOnPayloads: false }),
      noPlatformLogLines: monthCost(input, MIXED_MONTH, { platformLogLines: false }),
      classicalKeyExchange: monthCost(input, MIXED_MONTH, {
        wire: { full: classicalWire.full, resumed: classicalWire.resumed },
      }),
      hybridEveryHandshake: monthCost(input, MIXED_MONTH, {
        wire: { full: everyHandshakeWire.full, resumed: everyHandshakeWire.resumed },
      }),
      receiversWithoutHybridGroup: monthCost(input, MIXED_MONTH, {
        wire: { full: oldReceiverWire.full, resumed: oldReceiverWire.resumed },
      }),
      receiversWithoutHybridGroupNoKeySharePrediction: monthCost(input, MIXED_MONTH, {
        wire: {
          full: oldReceiverUnpredictedWire.full,
          resumed: oldReceiverUnpredictedWire.resumed,
        },
      }),
    };
    const fixed = fixedMonthly(facts, priceFile.prices, a);
    const fixedInstance = fixedMonthly(instanceFacts, priceFile.prices, a);
    const fixedTotal = sum(fixed);
    const fixedInstanceTotal = sum(fixedInstance);
    const fixedSingle = fixedMonthly(singleNatFacts, priceFile.prices, a);
    const fixedSingleTotal = sum(fixedSingle);
    const outageCostRatio = round(mixed.total / calm.total, 4);
    const outageRatioWithout = round(perNotification.total / calm.total, 4);
    const writeUnits = units.sent.wru;
    const retriedTransitions = transitions[MIXED_MONTH.recoverAt].transitions;

    opts.log(`mixed month per million: $${mixed.total}; ${JSON.stringify(mixed.perMillion)}`);
    opts.log(`traffic: ${JSON.stringify(mixed.traffic)}`);
    const top = Object.entries(mixed.perMillion)
      .sort((x, y) => y[1] - x[1])
      .slice(0, 3)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    const rows: Row[] = [
      {
        label: 'Cost per million notifications (mixed month, NAT gateways)',
        key: 'costPerMillionUsd',
        value: mixed.total,
        unit: 'USD',
        reference: `largest: ${top}`,
        goal: `<= ${GOALS.costPerMillionUsd}`,
        met: mixed.total <= GOALS.costPerMillionUsd,
      },
      {
        label: 'Cost per million notifications (mixed month, NAT instances)',
        key: 'costPerMillionInstanceNatUsd',
        value: mixedInstance.total,
        unit: 'USD',
        reference: `vs ${mixed.total} with NAT gateways (no per-GB processing)`,
      },
      {
        label: 'Cost per million notifications (mixed month, one NAT instance)',
        key: 'costPerMillionSingleNatUsd',
        value: mixedSingleNat.total,
        unit: 'USD',
        reference: `vs ${mixedInstance.total} with one per AZ: cross-AZ data ${mixedSingleNat.perMillion.crossAzData}`,
      },
      {
        label: 'Outage cost ratio (mixed month / same month without the outage)',
        key: 'outageCostRatio',
        value: outageCostRatio,
        unit: 'x',
        reference: `${outageRatioWithout}x with one retry execution per notification (no circuit breaker), ${round(mixed.traffic.probes)} probes`,
        goal: `<= ${GOALS.outageCostRatio}`,
        met: outageCostRatio <= GOALS.outageCostRatio,
      },
      {
        label: 'DynamoDB write units per notification (happy path, as reported)',
        key: 'writeUnitsPerNotification',
        value: writeUnits,
        unit: 'WRU',
        reference: `${units.sent.indexWru} of them index writes; item-size estimate ${units.sent.estimatedWru}`,
        goal: `<= ${GOALS.writeUnitsPerNotification}`,
        met: writeUnits <= GOALS.writeUnitsPerNotification,
      },
      {
        label: 'Step Functions transitions per retried notification',
        key: 'sfnTransitionsPerRetriedNotification',
        value: retriedTransitions,
        unit: '',
        reference: `sent at retry 1; all five retries failing: ${transitions.exhausted.transitions}`,
      },
      {
        label: 'Cost per million, single-event POSTs',
        key: 'costPerMillionSingleEventUsd',
        value: single.total,
        unit: 'USD',
        reference: `vs ${mixed.total} with ${MIXED_MONTH.eventsPerRequest} events per POST`,
      },
      fixedRow('Fixed cost per region per month (NAT gateways)', 'fixedMonthlyUsd', fixed),
      fixedRow(
        'Fixed cost per region per month (NAT instance per AZ)',
        'fixedMonthlyInstanceNatUsd',
        fixedInstance,
      ),
      {
        ...fixedRow(
          'Fixed cost per region per month (one NAT instance for both AZs)',
          'fixedMonthlySingleNatUsd',
          fixedSingle,
          `vs ${fixedInstanceTotal} with a NAT instance per AZ; `,
        ),
        goal: `<= ${GOALS.fixedMonthlySingleNatUsd}`,
        met: fixedSingleTotal <= GOALS.fixedMonthlySingleNatUsd,
      },
    ];
    for (const [k, v] of Object.entries(mixed.perMillion))
      rows.push({
        label: `  per million: ${k}`,
        key: `costBreakdownUsd.${k}`,
        value: v,
        unit: 'USD',
      });
    for (const [k, b] of Object.entries(whatIf))
      rows.push({
        label: `  what if: ${k}`,
        key: `costWhatIfUsd.${k}`,
        value: b.total,
        unit: 'USD',
        reference: `vs ${mixed.total}`,
      });
    const hosted = hostedReferences(priceFile.prices, MIXED_MONTH.notifications);
    const ownMonth = round(mixed.total + fixedTotal, 4);
    for (const [k, v] of Object.entries(hosted))
      rows.push({
        label: `  elsewhere, the same month: ${k}`,
        key: `hostedReferenceUsd.${k}`,
        value: v,
        unit: 'USD',
        reference: `list price (prices.json); this stack's month with NAT gateways ${ownMonth}`,
      });
    if (perNotification.traffic.undelivered > 0)
      notes.push(
        `Without a circuit breaker ${round(perNotification.traffic.undelivered)} of the outage's notifications would exhaust their retries inside the 48 h and end FAILED (not delivered automatically).`,
      );
    notes.push(
      'Lambda durations: measured CPU per notification (delivery benchmark) scaled to the function memory, plus assumed service latencies (prices.json assumptions); the receiver response time is an assumption.',
    );
    const figures: Record<string, number> = {
      costPerMillionUsd: mixed.total,
      costPerMillionInstanceNatUsd: mixedInstance.total,
      costPerMillionSingleNatUsd: mixedSingleNat.total,
      costPerMillionWithoutOutageUsd: calm.total,
      outageCostRatio,
      outageCostRatioWithoutCircuitBreaker: outageRatioWithout,
      writeUnitsPerNotification: writeUnits,
      sfnTransitionsPerRetriedNotification: retriedTransitions,
      costPerMillionSingleEventUsd: single.total,
      fixedMonthlyUsd: fixedTotal,
      fixedMonthlyInstanceNatUsd: fixedInstanceTotal,
      fixedMonthlySingleNatUsd: fixedSingleTotal,
      'attemptWireBytes.full': wire.full.both,
      'attemptWireBytes.resumed': wire.resumed.both,
      tlsResumedAttemptShare: mixed.volumes.tlsResumedAttemptShare ?? 0,
    };
    for (const [k, v] of Object.entries(mixed.perMillion)) figures[`costBreakdownUsd.${k}`] = v;
    for (const [k, v] of Object.entries(mixedInstance.perMillion))
      figures[`costBreakdownInstanceNatUsd.${k}`] = v;
    for (const [k, v] of Object.entries(fixed)) figures[`fixedMonthlyBreakdownUsd.${k}`] = v;
    for (const [k, v] of Object.entries(fixedInstance))
      figures[`fixedMonthlyInstanceNatBreakdownUsd.${k}`] = v;
    for (const [k, v] of Object.entries(fixedSingle))
      figures[`fixedMonthlySingleNatBreakdownUsd.${k}`] = v;
    for (const [k, b] of Object.entries(whatIf)) figures[`costWhatIfUsd.${k}`] = b.total;
    for (const [k, v] of Object.entries(hosted)) figures[`hostedReferenceUsd.${k}`] = v;
    return {
      figures,
      rows,
      details: {
        scenario: MIXED_MONTH,
        stack: facts,
        instanceStack: instanceFacts,
        singleNatStack: singleNatFacts,
        transitions,
        dynamoUnitsPerPath: units,
        logBytes: logs,
        measured: { ...measured, units: undefined, transitions: undefined, logs: undefined },
        mixedMonth: mixed,
        mixedMonthInstanceNat: mixedInstance,
        mixedMonthSingleNat: mixedSingleNat,
        withoutOutage: calm,
        outageWithoutCircuitBreaker: perNotification,
        wire,
        wireClassicalKeyExchange: classicalWire,
        wireReceiverWithoutHybridGroup: oldReceiverWire,
        wireReceiverWithoutHybridGroupNoKeySharePrediction: oldReceiverUnpredictedWire,
        singleEvent: single,
        assumptions: priceFile.assumptions,
        prices: priceFile.prices,
      },
      notes,
    };
  },
};

export type { BenchOptions };
