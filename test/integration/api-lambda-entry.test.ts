/**
 * The exported `handler`s of the api and ingest Lambdas, built lazily from env as on AWS (table
 * names, queue URL, region, sender IPs, endpoints of the local stand-ins).
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { DeliveryJob } from '../../lambdas/core/model';
import { drainQueue } from '../support/api-harness';
import { apiGatewayEvent } from '../support/apigw';
import { useStandIns, withEnv } from '../support/standins';

const standIns = useStandIns();

type Handler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

function freshHandler(module: 'api' | 'ingest'): Handler {
  let handler: Handler | undefined;
  jest.isolateModules(() => {
    handler = (require(`../../lambdas/handlers/${module}`) as { handler: Handler }).handler;
  });
  return handler!;
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

  it('fail the cold start naming a missing variable', async () => {
    await withEnv({ ...env(), WEBHOOKS_TABLE: undefined }, async () => {
      const handler = freshHandler('api');
      await expect(handler(apiGatewayEvent({ method: 'GET', path: '/health' }))).rejects.toThrow(
        /WEBHOOKS_TABLE/,
      );
    });
  });
});
