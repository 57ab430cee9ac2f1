import * as path from 'node:path';
import { type Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../../lambdas/config';

/** The repository root: esbuild resolves the handlers' imports from here. */
export const PROJECT_ROOT = path.join(__dirname, '..', '..');
/** Powertools `service` dimension of every EMF metric (the dashboard and alarms filter on it). */
export const POWERTOOLS_SERVICE_NAME = 'webhooks';

export type HandlerName = 'ingest' | 'api' | 'delivery' | 'attempt' | 'sweeper';

export interface HandlerFunctionProps {
  /** Entry file lambdas/functions/<handler>.ts, exporting `handler`. */
  readonly handler: HandlerName;
  readonly description: string;
  readonly memorySize: number;
  readonly timeout: Duration;
  readonly environment: Record<string, string>;
  readonly logRetention: logs.RetentionDays;
  /** Subnets and security group when the function must send from the NAT gateways' IPs. */
  readonly vpc?: {
    readonly vpc: ec2.IVpc;
    readonly subnets: ec2.SubnetSelection;
    readonly securityGroups: ec2.ISecurityGroup[];
  };
}

/**
 * The module entry of each package before its CommonJS one: the AWS SDK's ES module builds
 * let esbuild drop what a handler never calls (the CommonJS builds are one file per package),
 * about a third of each bundle.
 */
export const BUNDLE_MAIN_FIELDS = ['module', 'main'];

/**
 * One Lambda of the platform: Node.js 22 on arm64, bundled locally by esbuild (no Docker),
 * minified with source maps, the AWS SDK bundled in (the pinned versions, not the runtime's)
 * from its ES module builds, its own log group with a retention.
 */
export class HandlerFunction extends nodejs.NodejsFunction {
  constructor(scope: Construct, id: string, props: HandlerFunctionProps) {
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    super(scope, id, {
      entry: path.join(PROJECT_ROOT, 'lambdas', 'functions', `${props.handler}.ts`),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      description: props.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      logGroup,
      environment: {
        POWERTOOLS_SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: {
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        target: 'node22',
        format: nodejs.OutputFormat.CJS,
        mainFields: BUNDLE_MAIN_FIELDS,
        externalModules: [],
        forceDockerBundling: false,
        logLevel: nodejs.LogLevel.ERROR,
      },
      ...(props.vpc === undefined
        ? {}
        : {
            vpc: props.vpc.vpc,
            vpcSubnets: props.vpc.subnets,
            securityGroups: props.vpc.securityGroups,
          }),
    });
    const managedPolicies = [
      'AWSLambdaBasicExecutionRole',
      ...(props.vpc === undefined ? [] : ['AWSLambdaVPCAccessExecutionRole']),
    ];
    for (const policy of managedPolicies) {
      Validations.of(this).acknowledge({
        id: `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${policy}]`,
        reason: `${policy}: the AWS-maintained minimum for a Lambda's own logs${props.vpc === undefined ? '' : ' and its VPC network interfaces'}.`,
      });
    }
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Pinned to nodejs22.x: the runtime the bundles target (node22) and the project is tested against.',
    });
  }
}
