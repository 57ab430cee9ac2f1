import { Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/config';
import { DEFAULT_SETTINGS } from '../config';
import { HandlerFunction } from './handler-function';
import type { Tables } from './tables';

export type RouteTarget = 'ingest' | 'api';
export interface RouteSpec {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly path: string;
  readonly target: RouteTarget;
  /** Who may call it with SigV4; `public` routes have no authorization. */
  readonly access: 'producer' | 'operator' | 'public';
}

/** Every route of the HTTP API (docs/openapi.yaml), and which Lambda serves it. */
export const API_ROUTES: readonly RouteSpec[] = [
  { method: 'POST', path: '/events', target: 'ingest', access: 'producer' },
  { method: 'GET', path: '/webhooks', target: 'api', access: 'operator' },
  { method: 'POST', path: '/webhooks', target: 'api', access: 'operator' },
  { method: 'GET', path: '/webhooks/{id}', target: 'api', access: 'operator' },
  { method: 'PUT', path: '/webhooks/{id}', target: 'api', access: 'operator' },
  { method: 'DELETE', path: '/webhooks/{id}', target: 'api', access: 'operator' },
  { method: 'POST', path: '/webhooks/{id}/preview', target: 'api', access: 'operator' },
  {
    method: 'POST',
    path: '/webhooks/{id}/signing-secrets/rotate',
    target: 'api',
    access: 'operator',
  },
  { method: 'POST', path: '/subjects/{subject}/erase', target: 'api', access: 'operator' },
  { method: 'GET', path: '/webhooks/{id}/health', target: 'api', access: 'operator' },
  { method: 'POST', path: '/webhooks/{id}/pause', target: 'api', access: 'operator' },
  { method: 'POST', path: '/webhooks/{id}/resume', target: 'api', access: 'operator' },
  { method: 'GET', path: '/notifications', target: 'api', access: 'operator' },
  { method: 'GET', path: '/notifications/{id}', target: 'api', access: 'operator' },
  { method: 'POST', path: '/notifications/{id}/resend', target: 'api', access: 'operator' },
  { method: 'POST', path: '/notifications/resend', target: 'api', access: 'operator' },
  { method: 'GET', path: '/notifications/resend/{jobId}', target: 'api', access: 'operator' },
  { method: 'GET', path: '/event-types', target: 'api', access: 'operator' },
  { method: 'GET', path: '/sender-ips', target: 'api', access: 'operator' },
  { method: 'GET', path: '/health', target: 'api', access: 'public' },
];

/** Access log line: one JSON object per request, with the calling IAM principal. */
const ACCESS_LOG_FORMAT = JSON.stringify({
  requestId: '$context.requestId',
  time: '$context.requestTime',
  ip: '$context.identity.sourceIp',
  caller: '$context.identity.userArn',
  method: '$context.httpMethod',
  routeKey: '$context.routeKey',
  path: '$context.path',
  status: '$context.status',
  responseLength: '$context.responseLength',
  latencyMs: '$context.responseLatency',
  integrationLatencyMs: '$context.integrationLatency',
  integrationError: '$context.integrationErrorMessage',
  error: '$context.error.message',
});

export interface ApiProps {
  readonly tables: Tables;
  readonly queue: sqs.IQueue;
  /** The region's sender IPs as a comma list, served at GET /sender-ips. */
  readonly senderIps: string;
  /** RETENTION_DAYS (resend jobs expire with the history). Default 90. */
  readonly retentionDays?: number;
  /** DEFINITION_CACHE_TTL_SECONDS of the ingest Lambda. Default 30. */
  readonly definitionCacheTtlSeconds?: number;
  /** Stage steady-state rate limit (requests/s). Default 10000. */
  readonly throttleRateLimit?: number;
  /** Stage burst limit. Default 5000. */
  readonly throttleBurstLimit?: number;
  readonly logRetention: logs.RetentionDays;
}

/**
 * HTTP API with IAM (SigV4) authorization on every route but /health. POST /events goes to
 * the ingest Lambda, everything else to the api Lambda; both run outside the VPC (they never
 * call receivers). Exposes a producer and an operator managed policy.
 */
export class Api extends Construct {
  readonly httpApi: apigw.HttpApi;
  readonly stage: apigw.HttpStage;
  readonly accessLogs: logs.LogGroup;
  readonly ingestFunction: HandlerFunction;
  readonly apiFunction: HandlerFunction;
  readonly routes: apigw.HttpRoute[];
  /** execute-api:Invoke on POST /events only. */
  readonly producerPolicy: iam.ManagedPolicy;
  /** execute-api:Invoke on every other authorized route. */
  readonly operatorPolicy: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);
    const { tables, queue } = props;

    this.ingestFunction = new HandlerFunction(this, 'IngestFunction', {
      handler: 'ingest',
      description: 'Webhooks: POST /events, matches definitions and enqueues delivery jobs',
      memorySize: 512,
      timeout: Duration.seconds(10),
      // The api and ingest Lambdas share one config loader; ingest is granted only what it uses.
      environment: {
        ...tables.storeEnvironment(queue),
        [ENV.DEFINITION_CACHE_TTL_SECONDS]: String(
          props.definitionCacheTtlSeconds ?? DEFAULT_SETTINGS.definitionCacheTtlSeconds,
        ),
      },
      logRetention: props.logRetention,
    });
    tables.grantWebhooksRead(this.ingestFunction);
    tables.grantEnvelope(this.ingestFunction, 'open');
    tables.grantEventTypesRecord(this.ingestFunction);
    queue.grantSendMessages(this.ingestFunction);

    this.apiFunction = new HandlerFunction(this, 'ApiFunction', {
      handler: 'api',
      description: 'Webhooks: definitions, history, resends, sender IPs, health',
      memorySize: 512,
      timeout: Duration.seconds(29),
      environment: {
        ...tables.storeEnvironment(queue),
        [ENV.SENDER_IPS]: props.senderIps,
        [ENV.RETENTION_DAYS]: String(props.retentionDays ?? DEFAULT_SETTINGS.retentionDays),
      },
      logRetention: props.logRetention,
    });
    tables.grantWebhooksReadWrite(this.apiFunction);
    tables.grantEnvelope(this.apiFunction, 'seal');
    tables.grantNotificationsReadWrite(this.apiFunction);
    tables.grantCursorKey(this.apiFunction);
    tables.grantPayloadsGet(this.apiFunction);
    tables.grantEventTypesRead(this.apiFunction);
    tables.grantSubjectKeys(this.apiFunction, 'erase');
    queue.grantSendMessages(this.apiFunction);

    this.httpApi = new apigw.HttpApi(this, 'HttpApi', {
      description: 'Webhooks platform: producers (POST /events) and operators',
      createDefaultStage: false,
    });
    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stage = new apigw.HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: {
        rateLimit: props.throttleRateLimit ?? DEFAULT_SETTINGS.apiThrottleRateLimit,
        burstLimit: props.throttleBurstLimit ?? DEFAULT_SETTINGS.apiThrottleBurstLimit,
      },
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(ACCESS_LOG_FORMAT),
      },
    });

    // One integration per function: one Lambda permission for all of its routes.
    const integrations: Record<RouteTarget, HttpLambdaIntegration> = {
      ingest: new HttpLambdaIntegration('IngestIntegration', this.ingestFunction, {
        scopePermissionToRoute: false,
      }),
      api: new HttpLambdaIntegration('ApiIntegration', this.apiFunction, {
        scopePermissionToRoute: false,
      }),
    };
    const iamAuthorizer = new HttpIamAuthorizer();
    const producerArns: string[] = [];
    const operatorArns: string[] = [];
    this.routes = API_ROUTES.map((spec) => {
      const route = new apigw.HttpRoute(
        this,
        `Route${spec.method}${spec.path.replace(/[^A-Za-z0-9]+/g, '_')}`,
        {
          httpApi: this.httpApi,
          routeKey: apigw.HttpRouteKey.with(spec.path, apigw.HttpMethod[spec.method]),
          integration: integrations[spec.target],
          ...(spec.access === 'public' ? {} : { authorizer: iamAuthorizer }),
        },
      );
      if (spec.access === 'public') {
        Validations.of(route).acknowledge({
          id: 'AwsSolutions-APIG4',
          reason:
            'GET /health is a liveness probe for load balancers and uptime checks; it reveals nothing.',
        });
      }
      if (spec.access === 'producer') producerArns.push(this.routeArn(spec));
      if (spec.access === 'operator') operatorArns.push(this.routeArn(spec));
      return route;
    });

    this.producerPolicy = new iam.ManagedPolicy(this, 'ProducerPolicy', {
      description: 'Webhooks producers: POST /events only',
      statements: [
        new iam.PolicyStatement({ actions: ['execute-api:Invoke'], resources: producerArns }),
      ],
    });
    this.operatorPolicy = new iam.ManagedPolicy(this, 'OperatorPolicy', {
      description: 'Webhooks operators: definitions, history, resends, sender IPs',
      statements: [
        new iam.PolicyStatement({ actions: ['execute-api:Invoke'], resources: operatorArns }),
      ],
    });
    // Path parameters of execute-api ARNs can only be matched with a wildcard.
    const region = Token.isUnresolved(Stack.of(this).region)
      ? '<AWS::Region>'
      : Stack.of(this).region;
    for (const spec of API_ROUTES.filter((r) => r.access === 'operator' && r.path.includes('{'))) {
      Validations.of(this.operatorPolicy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:${region}:<AWS::AccountId>:<${this.apiLogicalId()}>/$default/${spec.method}${iamPath(spec.path)}]`,
        reason: `${spec.method} ${spec.path}: the wildcard stands for the path parameter only (one route, one method).`,
      });
    }
  }

  /** The invoke URL of the $default stage. */
  get url(): string {
    return this.stage.url;
  }

  private routeArn(spec: RouteSpec): string {
    return Stack.of(this).formatArn({
      service: 'execute-api',
      resource: this.httpApi.apiId,
      resourceName: `${this.stage.stageName}/${spec.method}${iamPath(spec.path)}`,
    });
  }

  private apiLogicalId(): string {
    return Stack.of(this).getLogicalId(this.httpApi.node.defaultChild as apigw.CfnApi);
  }
}

/** `/webhooks/{id}/preview` -> `/webhooks/*\/preview` as execute-api resources spell it. */
function iamPath(path: string): string {
  return path.replace(/\{[^}]+\}/g, '*');
}
