/**
 * Secrets at rest: what DynamoDB Local holds for a webhook with Basic Auth and a signing
 * secret (read raw, as anyone allowed GetItem would), and items written before secrets were
 * sealed, which still deliver and are sealed on their next save.
 */
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { Webhook } from 'standardwebhooks';
import { fromItem, toItem } from '../../lambdas/adapters/dynamo-stores';
import { basicAuthorization, generateSigningSecret } from '../../lambdas/core/signing';
import { apiHandlerFor } from '../support/api-harness';
import { client } from '../support/apigw';
import { definition, deliverJob, event, useDeliveryHarness } from '../support/delivery-harness';
import { useStandIns } from '../support/standins';

const standIns = useStandIns();

function stringHeaders(headers: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)]));
}
const PASSWORD = 'correct-horse-battery-staple';

async function rawItem(id: string): Promise<Record<string, unknown>> {
  const s = standIns();
  const out = await s.clients.dynamo.send(
    new GetItemCommand({ TableName: s.tables.webhooks, Key: { id: { S: id } } }),
  );
  return fromItem(out.Item!);
}

describe('secrets in the Webhooks table', () => {
  const { harness, receiver } = useDeliveryHarness(standIns);
  beforeEach(() => {
    receiver.requests.length = 0;
  });

  it('never appear in the item: password and signing secret are sealed, the rest stays readable', async () => {
    const api = client(apiHandlerFor(standIns()).handler);
    const created = await api.post('/webhooks', {
      name: 'sealed',
      events: ['LOAN_DISBURSEMENT'],
      url: `${receiver.url}/sealed`,
      auth: { type: 'basic', username: 'svc', password: PASSWORD },
      signingSecret: 'generate',
    });
    expect(created.status).toBe(201);
    const secret = created.body.signingSecret as string;
    expect(secret).toMatch(/^whsec_/);

    const item = await rawItem(created.body.id);
    const text = JSON.stringify(item);
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(secret.slice('whsec_'.length));
    expect(item).toMatchObject({ name: 'sealed', auth: { type: 'basic', username: 'svc' } });
    expect(item.signingSecret).toBeUndefined();
    expect(item.secrets).toMatch(/^enc1\.local:/);

    // The delivery path opens them: Basic Auth and a signature the library accepts.
    const def = (await harness.webhooks.get(created.body.id))!;
    const job = deliverJob(def, event({ loanId: 'L-1' }));
    await harness.service.handleJob(job);
    const received = receiver.requests[0]!;
    expect(received.headers.authorization).toBe(basicAuthorization('svc', PASSWORD));
    expect(() =>
      new Webhook(secret).verify(received.body, stringHeaders(received.headers)),
    ).not.toThrow();
  });

  it('written in the clear by an older version still deliver, and are sealed on the next save', async () => {
    const secret = generateSigningSecret();
    const legacy = definition({
      url: `${receiver.url}/legacy`,
      auth: { type: 'basic', username: 'old', password: PASSWORD },
      signingSecret: secret,
    });
    const s = standIns();
    await s.clients.dynamo.send(
      new PutItemCommand({ TableName: s.tables.webhooks, Item: toItem({ ...legacy }) }),
    );
    expect(JSON.stringify(await rawItem(legacy.id))).toContain(PASSWORD);

    await harness.service.handleJob(deliverJob(legacy, event({ loanId: 'L-2' })));
    const received = receiver.requests[0]!;
    expect(received.headers.authorization).toBe(basicAuthorization('old', PASSWORD));
    expect(() =>
      new Webhook(secret).verify(received.body, stringHeaders(received.headers)),
    ).not.toThrow();

    const api = client(apiHandlerFor(standIns()).handler);
    const got = await api.get(`/webhooks/${legacy.id}`);
    expect(got.body.auth).toEqual({ type: 'basic', username: 'old', password: '***' });
    const saved = await api.put(`/webhooks/${legacy.id}`, { ...got.body, name: 'renamed' });
    expect(saved.status).toBe(200);
    const text = JSON.stringify(await rawItem(legacy.id));
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(secret.slice('whsec_'.length));
    expect((await harness.webhooks.get(legacy.id))?.auth?.password).toBe(PASSWORD);
  });
});
