/**
 * Facts of the cost model: what the stack is (the CDK app synthesized in-process, bundling
 * skipped) and what things cost (bench/prices.json, each price with its source and the date
 * it was read). Nothing here is measured or priced: cost-measure.ts measures, cost-model.ts
 * prices.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { TLS_KEY_EXCHANGES } from '../lambdas/config';
import { required } from '../lambdas/core/required';
import { DEFAULT_RETRY_SCHEDULE_SECONDS } from '../lambdas/core/retry-schedule';
import { DEFAULTS } from '../lambdas/defaults';
import { buildApp } from '../lib/app';
import { withTemporaryApp } from '../lib/temporary-app';
import type { PriceFile, StackFacts } from './cost-model';
import { BENCH_DIR } from './support/processes';

interface Resource {
  Type: string;
  Properties?: Record<string, unknown>;
}

/** The price file, refused when a price lacks its source or the date it was read. */
export function loadPrices(file = path.join(BENCH_DIR, 'prices.json')): PriceFile {
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as PriceFile;
  const problems = checkPriceFile(parsed);
  if (problems.length > 0) throw new Error(`${file}: ${problems.join('; ')}`);
  return parsed;
}

/** Every price needs a positive number, a unit, a source and a YYYY-MM-DD date it was read. */
export function checkPriceFile(file: PriceFile): string[] {
  const problems: string[] = [];
  for (const [name, p] of Object.entries(file.prices ?? {})) {
    if (typeof p.usd !== 'number' || !(p.usd >= 0)) problems.push(`${name}: usd must be >= 0`);
    if (typeof p.unit !== 'string' || p.unit === '') problems.push(`${name}: unit missing`);
    if (typeof p.source !== 'string' || p.source === '') problems.push(`${name}: source missing`);
    if (typeof p.readOn !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(p.readOn))
      problems.push(`${name}: readOn must be YYYY-MM-DD`);
  }
  return problems;
}

/**
 * Synthesizes one region's stack with the given extra context and reads the facts off its
 * template (in a temporary App).
 */
export function synthesizeStackFacts(context: Record<string, unknown> = {}): StackFacts {
  return withTemporaryApp(
    { context: { regions: 'us-east-1', 'aws:cdk:bundling-stacks': [], ...context } },
    (app) => {
      const [stack] = buildApp(app, {});
      if (!stack) throw new Error('the CDK app produced no stack');
      const template = app.synth().getStackByName(stack.stackName).template as {
        Resources: Record<string, Resource>;
      };
      return factsOfTemplate(template.Resources);
    },
  );
}

const num = (v: unknown, fallback: number) =>
  typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : fallback;

export function factsOfTemplate(resources: Record<string, Resource>): StackFacts {
  const entries = Object.entries(resources);
  const ofType = (t: string) => entries.filter(([, r]) => r.Type === t);
  const functions: StackFacts['functions'] = {};
  let otherFunctions = 0;
  let env: Record<string, string> = {};
  let senderSubnets = 0;
  for (const [id, r] of ofType('AWS::Lambda::Function')) {
    const p = r.Properties ?? {};
    const role = ['Delivery', 'Attempt', 'Ingest', 'Api'].find((n) => id.includes(`${n}Function`));
    if (!role) {
      otherFunctions++;
      continue;
    }
    const variables = ((p.Environment as { Variables?: Record<string, unknown> } | undefined)
      ?.Variables ?? {}) as Record<string, string>;
    const logging = p.LoggingConfig as { LogFormat?: string; SystemLogLevel?: string } | undefined;
    functions[role.toLowerCase()] = {
      memoryMb: Number(p.MemorySize ?? 128),
      architecture: required(
        ((p.Architectures as string[] | undefined) ?? ['x86_64'])[0],
        "((p.Architectures as string[] | undefined) ?? ['x86_64'])[0]",
      ),
      logicalId: id,
      logSampleRate: num(variables.POWERTOOLS_LOGGER_SAMPLE_RATE, 1),
      logLevel:
        typeof variables.POWERTOOLS_LOG_LEVEL === 'string'
          ? variables.POWERTOOLS_LOG_LEVEL
          : 'INFO',
      // JSON log format with system log level WARN drops the START/END/REPORT lines.
      platformLogLines: !(
        logging?.LogFormat === 'JSON' && /^(WARN|ERROR)$/.test(logging.SystemLogLevel ?? '')
      ),
    };
    if (role === 'Delivery') {
      env = variables;
      senderSubnets =
        (p.VpcConfig as { SubnetIds?: unknown[] } | undefined)?.SubnetIds?.length ?? 0;
    }
  }
  const esm = ofType('AWS::Lambda::EventSourceMapping')[0]?.[1].Properties ?? {};
  const machines = ofType('AWS::StepFunctions::StateMachine').map(([id, r]) => {
    const p = r.Properties ?? {};
    return {
      logicalId: id,
      type: String(p.StateMachineType ?? 'STANDARD'),
      logLevel: String((p.LoggingConfiguration as { Level?: string } | undefined)?.Level ?? 'OFF'),
      tracing: (p.TracingConfiguration as { Enabled?: boolean } | undefined)?.Enabled === true,
    };
  });
  const retryMachine = machines.find((m) => /Retry/i.test(m.logicalId)) ?? machines[0];
  let schedule = [...DEFAULT_RETRY_SCHEDULE_SECONDS];
  try {
    if (typeof env.RETRY_SCHEDULE_SECONDS === 'string')
      schedule = JSON.parse(env.RETRY_SCHEDULE_SECONDS) as number[];
  } catch {
    // keep the default
  }
  // NAT instances: Auto Scaling groups of launch templates, or plain instances.
  const templates = new Map(
    ofType('AWS::EC2::LaunchTemplate').map(([id, r]) => {
      const data = (r.Properties?.LaunchTemplateData ?? {}) as {
        InstanceType?: string;
        BlockDeviceMappings?: { Ebs?: { VolumeSize?: number } }[];
      };
      return [id, data] as const;
    }),
  );
  const natInstances: { instanceType: string; volumeGb: number }[] = [];
  for (const [, r] of ofType('AWS::AutoScaling::AutoScalingGroup')) {
    const p = r.Properties ?? {};
    const ref = (p.LaunchTemplate as { LaunchTemplateId?: { Ref?: string } } | undefined)
      ?.LaunchTemplateId?.Ref;
    const data = ref === undefined ? undefined : templates.get(ref);
    const count = Number(p.DesiredCapacity ?? p.MinSize ?? 1);
    for (let i = 0; i < count; i++)
      natInstances.push({
        instanceType: data?.InstanceType ?? 'unknown',
        volumeGb: data?.BlockDeviceMappings?.[0]?.Ebs?.VolumeSize ?? 8,
      });
  }
  for (const [, r] of ofType('AWS::EC2::Instance')) {
    const p = r.Properties ?? {};
    natInstances.push({
      instanceType: String(p.InstanceType ?? 'unknown'),
      volumeGb:
        (p.BlockDeviceMappings as { Ebs?: { VolumeSize?: number } }[] | undefined)?.[0]?.Ebs
          ?.VolumeSize ?? 8,
    });
  }
  return {
    functions,
    otherFunctions,
    sqsBatchSize: Number(esm.BatchSize ?? 10),
    natGateways: ofType('AWS::EC2::NatGateway').length,
    natInstances,
    senderSubnets,
    elasticIps: ofType('AWS::EC2::EIP').length,
    alarms: ofType('AWS::CloudWatch::Alarm').length,
    dashboards: ofType('AWS::CloudWatch::Dashboard').length,
    kmsKeys: ofType('AWS::KMS::Key').length,
    sqsEventSources: ofType('AWS::Lambda::EventSourceMapping').filter(([, r]) =>
      JSON.stringify(r.Properties?.EventSourceArn ?? '').includes('Queue'),
    ).length,
    interfaceEndpoints: ofType('AWS::EC2::VPCEndpoint').filter(
      ([, r]) => r.Properties?.VpcEndpointType === 'Interface',
    ).length,
    pitrTables: ofType('AWS::DynamoDB::Table').filter(
      ([, r]) =>
        (
          r.Properties?.PointInTimeRecoverySpecification as
            | { PointInTimeRecoveryEnabled?: boolean }
            | undefined
        )?.PointInTimeRecoveryEnabled,
    ).length,
    payloadsTableClass: String(
      ofType('AWS::DynamoDB::Table').find(([id]) => id.includes('PayloadsTable'))?.[1].Properties
        ?.TableClass ?? 'STANDARD',
    ),
    stateMachines: machines.length,
    stateMachineType: retryMachine?.type ?? 'STANDARD',
    stateMachineLogLevel: retryMachine?.logLevel ?? 'OFF',
    stateMachineTracing: retryMachine?.tracing ?? false,
    retentionDays: num(env.RETENTION_DAYS, 90),
    retrySchedule: schedule,
    deliveryConcurrency: num(env.DELIVERY_CONCURRENCY, 16),
    tlsKeyExchange:
      TLS_KEY_EXCHANGES.find((k) => k === env.TLS_KEY_EXCHANGE) ?? DEFAULTS.tlsKeyExchange,
  };
}
