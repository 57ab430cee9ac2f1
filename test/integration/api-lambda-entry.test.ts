/**
 * The exported `handler`s of the Lambdas, built at init from env as on AWS (table names, queue
 * URL, region, sender IPs, endpoints of the local stand-ins).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import type { DeliveryJob } from '../../lambdas/core/model';
import { drainQueue } from '../support/api-harness';
import { apiGatewayEvent } from '../support/apigw';
import { bundleLambda } from '../support/bundle';
import { useStandIns, withEnv } from '../support/standins';

const standIns = useStandIns();
const execFileAsync = promisify(execFile);

type LambdaHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;
type Handler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

let invocations = 0;
function lambdaContext(functionName: string): Context {
  invocations++;
  return {
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: `request-${invocations}`,
  } as Context;
}

/** Loads a Lambda entry point in a fresh module registry: its init runs as on a cold start. */
function loadEntry(module: 'api' | 'ingest' | 'delivery' | 'attempt'): unknown {
  let loaded: unknown;
  jest.isolateModules(() => {
    loaded = (require(`../../lambdas/functions/${module}`) as { handler: unknown }).handler;
  });
  return loaded;
}

function freshHandler(module: 'api' | 'ingest'): Handler {
  const handler = loadEntry(module) as LambdaHandler;
  return (event) => handler(event, lambdaContext(module));
}

const env = () => ({
  ...standIns().env,
  SENDER_IPS: '198.51.100.1, 198.51.100.2',
  POWERTOOLS_LOG_LEVEL: 'ERROR',
});

describe('the Lambda entry points', () => {
  it('serve the api routes from env-built dependencies', async () => {
    await withEnv(env(), async () => {
      const handler = freshHandler('api');
      const ips = await handler(apiGatewayEvent({ method: 'GET', path: '/sender-ips' }));
      expect(ips.statusCode).toBe(200);
      expect(JSON.parse(ips.body!)).toEqual({
        region: standIns().region,
        ips: ['198.51.100.1', '198.51.100.2'],
      });
      const created = await handler(
        apiGatewayEvent({
          method: 'POST',
          path: '/webhooks',
          body: { name: 'entry', events: ['ENTRY_TEST'], url: 'https://x.example/' },
        }),
      );
      expect(created.statusCode).toBe(201);
      const list = await handler(apiGatewayEvent({ method: 'GET', path: '/webhooks' }));
      expect(JSON.parse(list.body!).items.map((w: { name: string }) => w.name)).toContain('entry');
    });
  });

  it('ingest events into the real queue from env-built dependencies', async () => {
    await withEnv(env(), async () => {
      const api = freshHandler('api');
      const created = await api(
        apiGatewayEvent({
          method: 'POST',
          path: '/webhooks',
          body: { name: 'ingest', events: ['INGEST_TEST'], url: 'https://x.example/' },
        }),
      );
      expect(created.statusCode).toBe(201);
      const handler = freshHandler('ingest');
      const res = await handler(
        apiGatewayEvent({
          method: 'POST',
          path: '/events',
          body: { type: 'INGEST_TEST', id: 'entry-1', data: {} },
        }),
      );
      expect(res.statusCode).toBe(202);
      expect(JSON.parse(res.body!)).toEqual({ eventId: 'entry-1', notifications: 1 });
      const jobs = await drainQueue(standIns().clients.sqs, standIns().queueUrl);
      expect(jobs.map((j: DeliveryJob) => j.kind)).toEqual(['deliver']);
    });
  });

  it('keep resend jobs for RETENTION_DAYS, like the history', async () => {
    await withEnv({ ...env(), RETENTION_DAYS: '7' }, async () => {
      const handler = freshHandler('api');
      const now = Date.now();
      const res = await handler(
        apiGatewayEvent({
          method: 'POST',
          path: '/notifications/resend',
          body: {
            from: new Date(now - 3_600_000).toISOString(),
            to: new Date(now).toISOString(),
          },
        }),
      );
      expect(res.statusCode).toBe(202);
      const { jobId } = JSON.parse(res.body ?? '{}') as { jobId: string };
      const item = await standIns().clients.dynamo.send(
        new GetItemCommand({
          TableName: standIns().env.NOTIFICATIONS_TABLE,
          Key: { id: { S: `job#${jobId}` } },
        }),
      );
      const createdAt = Date.parse(item.Item?.createdAt?.S ?? '');
      const expiresAt = Number(item.Item?.expiresAt?.N);
      expect(expiresAt - Math.floor(createdAt / 1000)).toBe(7 * 86_400);
    });
  });

  it.each(['api', 'ingest', 'delivery', 'attempt'] as const)(
    '%s fails the cold start naming a missing variable',
    async (module) => {
      await withEnv(
        {
          ...env(),
          RETRY_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:000000000000:stateMachine:retry',
          HEALTH_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:000000000000:stateMachine:health',
          WEBHOOKS_TABLE: undefined,
        },
        async () => {
          expect(() => loadEntry(module)).toThrow(/WEBHOOKS_TABLE/);
        },
      );
    },
  );

  it('log each request with the Lambda context (request id, cold start)', async () => {
    const lines: string[] = [];
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      // Lambda sets AWS_LAMBDA_INITIALIZATION_TYPE; Powertools reports cold starts only then.
      await withEnv(
        { ...env(), POWERTOOLS_LOG_LEVEL: 'INFO', AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand' },
        async () => {
          const handler = freshHandler('api');
          await handler(apiGatewayEvent({ method: 'GET', path: '/health' }));
          await handler(apiGatewayEvent({ method: 'GET', path: '/health' }));
        },
      );
    } finally {
      write.mockRestore();
    }
    const requests = lines
      .flatMap((chunk) => chunk.split('\n'))
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line))
      .filter((entry) => entry.message === 'request');
    expect(requests).toHaveLength(2);
    expect(requests.map((r) => r.function_request_id)).toEqual([
      `request-${invocations - 1}`,
      `request-${invocations}`,
    ]);
    expect(requests.map((r) => r.cold_start)).toEqual([true, false]);
    expect(requests[0].function_name).toBe('api');
  });
});

describe('the bundled entry points (esbuild as the CDK bundles them, the AWS SDK from its module builds)', () => {
  let dir: string;
  /**
   * One invocation of a bundle in a fresh node process, as a cold start on Lambda (the SDK's
   * module builds load node:http with a dynamic import, which jest's module runtime refuses).
   */
  const invokeBundle = async (
    name: 'api' | 'ingest',
    event: APIGatewayProxyEventV2,
  ): Promise<APIGatewayProxyStructuredResultV2> => {
    const script = `require(${JSON.stringify(path.join(dir, name, 'index.js'))})
      .handler(JSON.parse(process.argv[1]), { functionName: ${JSON.stringify(name)}, awsRequestId: 'bundled' })
      .then((r) => process.stdout.write('\\nRESULT ' + JSON.stringify(r) + '\\n'));`;
    const { stdout } = await execFileAsync(
      process.execPath,
      ['-e', script, JSON.stringify(event)],
      {
        env: { PATH: process.env.PATH ?? '', ...env() },
        encoding: 'utf8',
      },
    );
    const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
    if (line === undefined) throw new Error(`the ${name} bundle gave no result:\n${stdout}`);
    return JSON.parse(line.slice('RESULT '.length)) as APIGatewayProxyStructuredResultV2;
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'webhooks-entry-bundles-'));
    for (const name of ['api', 'ingest'])
      await bundleLambda(name, path.join(dir, name, 'index.js'));
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serve definitions, history and events against the stand-ins', async () => {
    const created = await invokeBundle(
      'api',
      apiGatewayEvent({
        method: 'POST',
        path: '/webhooks',
        body: { name: 'bundled', events: ['BUNDLE_TEST'], url: 'https://x.example/' },
      }),
    );
    expect(created.statusCode).toBe(201);
    const list = await invokeBundle('api', apiGatewayEvent({ method: 'GET', path: '/webhooks' }));
    expect(JSON.parse(list.body!).items.map((w: { name: string }) => w.name)).toContain('bundled');
    const history = await invokeBundle(
      'api',
      apiGatewayEvent({ method: 'GET', path: '/notifications?limit=1' }),
    );
    expect(history.statusCode).toBe(200);

    const accepted = await invokeBundle(
      'ingest',
      apiGatewayEvent({
        method: 'POST',
        path: '/events',
        body: { type: 'BUNDLE_TEST', id: 'bundled-1', data: {} },
      }),
    );
    expect(JSON.parse(accepted.body!)).toEqual({ eventId: 'bundled-1', notifications: 1 });
    const jobs = await drainQueue(standIns().clients.sqs, standIns().queueUrl);
    expect(jobs.map((j: DeliveryJob) => j.kind)).toEqual(['deliver']);
  });
});
