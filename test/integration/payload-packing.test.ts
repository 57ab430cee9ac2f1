/**
 * Stored requests packed (compressed) in DynamoDB Local: fewer write units and bytes than the
 * plain layout, and the API answers exactly as for a request stored plain, byte for byte.
 */
import { deflateRawSync } from 'node:zlib';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { createAwsClients } from '../../lambdas/adapters/aws-clients';
import { DynamoPayloadStore, toItem } from '../../lambdas/adapters/dynamo-stores';
import {
  PACKING_BROTLI_JSON,
  PACKING_DEFLATE_JSON,
  requestJson,
} from '../../lambdas/adapters/payload-packing';
import { notificationIdFor } from '../../lambdas/core/ids';
import type { Notification, RenderedRequest } from '../../lambdas/core/model';
import { apiHandlerFor, storesFor, subjectKeysFor } from '../support/api-harness';
import { client } from '../support/apigw';
import { useStandIns } from '../support/standins';

const standIns = useStandIns();
const EXPIRES = 2_000_000_000;

/** A loan disbursement of about 1 KiB, as the reference webhook renders it. */
const loanRequest: RenderedRequest = {
  method: 'POST',
  url: 'https://ledger.example.com/loans/L-2026-000123/disbursements?branch=north',
  headers: {
    'Content-Type': 'application/json',
    'X-Branch': 'north',
    'X-Correlation-Id': 'evt-2026-11-28-000123',
  },
  body: JSON.stringify({
    loan: {
      id: 'L-2026-000123',
      product: 'SME working capital',
      amount: 125000.5,
      currency: 'EUR',
      disbursedAt: '2026-11-28T10:00:00.000Z',
      borrower: { id: 'C-88412', name: 'Bäckerei Müller GmbH', country: 'DE' },
      schedule: Array.from({ length: 12 }, (_, i) => ({
        due: `2027-${String(i + 1).padStart(2, '0')}-28`,
        principal: 20833.42,
        interest: 812.5 - i * 120,
      })),
      notes: 'Auszahlung über SEPA – Referenz € 125.000,50',
    },
  }),
};

/** Counts the write units DynamoDB reports for every PutItem through the returned client. */
function meteredClient() {
  const dynamo = createAwsClients(standIns().env).dynamo;
  const units: number[] = [];
  dynamo.middlewareStack.add(
    (next) => async (args) => {
      const input = args.input as { ReturnConsumedCapacity?: string };
      input.ReturnConsumedCapacity = 'TOTAL';
      const result = await next(args);
      const consumed = (result.output as { ConsumedCapacity?: { CapacityUnits?: number } })
        .ConsumedCapacity;
      if (consumed?.CapacityUnits !== undefined) units.push(consumed.CapacityUnits);
      return result;
    },
    { step: 'initialize', name: 'testConsumedCapacity' },
  );
  return { dynamo, units };
}

function notificationFor(id: string): Notification {
  return {
    id,
    webhookId: 'wh_PACKPACKPACKPACKPACKPACK01',
    eventId: 'evt-2026-11-28-000123',
    eventType: 'LOAN_DISBURSEMENT',
    createdAt: '2026-11-28T10:00:00.000Z',
    status: 'SENT',
    failureReason: null,
    attempts: [
      {
        number: 1,
        trigger: 'initial',
        startedAt: '2026-11-28T10:00:00.100Z',
        durationMs: 42,
        statusCode: 200,
        outcome: 'SENT',
        error: null,
        responseBody: '{"ok":true}',
      },
    ],
    nextAttemptAt: null,
  };
}

/** The item as the store wrote it before requests were packed. */
const plainItem = (id: string, request: RenderedRequest) =>
  toItem({ id, ...request, headers: { ...request.headers }, expiresAt: EXPIRES });

describe('stored requests are packed', () => {
  it('stores a 1 KiB request in one write unit instead of two, packed, and reads it back exactly', async () => {
    const s = standIns();
    const { dynamo, units } = meteredClient();
    const store = new DynamoPayloadStore(dynamo, s.tables.payloads);

    expect(await store.putOnce('ntf_PACKED1', loanRequest, EXPIRES)).toBe('created');
    await dynamo.send(
      new PutItemCommand({
        TableName: s.tables.payloads,
        Item: plainItem('ntf_PLAIN1', loanRequest),
      }),
    );

    expect(units).toEqual([1, 2]);
    const stored = await s.clients.dynamo.send(
      new GetItemCommand({ TableName: s.tables.payloads, Key: { id: { S: 'ntf_PACKED1' } } }),
    );
    expect(stored.Item?.packing?.S).toBe(PACKING_BROTLI_JSON);
    expect(stored.Item?.body).toBeUndefined();
    expect(stored.Item?.request?.B?.length).toBeLessThan(Buffer.byteLength(loanRequest.body) / 2);
    const read = await store.get('ntf_PACKED1');
    expect(read).toEqual(loanRequest);
    expect(Object.keys(read?.headers ?? {})).toEqual(Object.keys(loanRequest.headers));
  });

  it('without subject keys refuses a request about a subject, to write or to read, rather than storing it in clear', async () => {
    const s = standIns();
    const sealing = new DynamoPayloadStore(s.clients.dynamo, s.tables.payloads, subjectKeysFor(s));
    const bare = new DynamoPayloadStore(s.clients.dynamo, s.tables.payloads);
    const needsKeys = 'a request about a subject needs subject keys';

    await expect(bare.putOnce('ntf_SUBJECT1', loanRequest, EXPIRES, 'client-1')).rejects.toThrow(
      needsKeys,
    );
    const unwritten = await s.clients.dynamo.send(
      new GetItemCommand({ TableName: s.tables.payloads, Key: { id: { S: 'ntf_SUBJECT1' } } }),
    );
    expect(unwritten.Item).toBeUndefined();

    expect(await sealing.putOnce('ntf_SUBJECT2', loanRequest, EXPIRES, 'client-1')).toBe('created');
    await expect(bare.get('ntf_SUBJECT2')).rejects.toThrow(needsKeys);
    expect(await sealing.get('ntf_SUBJECT2')).toEqual(loanRequest);
  });

  it('keeps a small request plain and any text exactly, lone surrogates included', async () => {
    const s = standIns();
    const store = storesFor(s).payloads;
    const small: RenderedRequest = {
      method: 'PUT',
      url: 'https://a.example/',
      headers: {},
      body: 'x',
    };
    const odd: RenderedRequest = {
      ...loanRequest,
      headers: { 'Content-Type': 'text/plain' },
      body: `lone \ud800 high, lone \udc00 low, nul \u0000, emoji 😀 ${'z'.repeat(400)}`,
    };
    await store.putOnce('ntf_SMALL', small, EXPIRES);
    await store.putOnce('ntf_ODD', odd, EXPIRES);

    const raw = await s.clients.dynamo.send(
      new GetItemCommand({ TableName: s.tables.payloads, Key: { id: { S: 'ntf_SMALL' } } }),
    );
    expect(raw.Item?.packing).toBeUndefined();
    expect(raw.Item?.body?.S).toBe('x');
    expect(await store.get('ntf_SMALL')).toEqual(small);
    expect((await store.get('ntf_ODD'))?.body).toBe(odd.body);
  });

  it('answers GET /notifications/{id} byte for byte as for the same request stored plain', async () => {
    const s = standIns();
    const stores = storesFor(s);
    const packedId = notificationIdFor('wh_PACKPACKPACKPACKPACKPACK01', 'packed');
    const plainId = notificationIdFor('wh_PACKPACKPACKPACKPACKPACK01', 'plain');
    await stores.payloads.putOnce(packedId, loanRequest, EXPIRES);
    await s.clients.dynamo.send(
      new PutItemCommand({
        TableName: s.tables.payloads,
        Item: plainItem(plainId, loanRequest),
      }),
    );
    for (const id of [packedId, plainId])
      expect(await stores.notifications.create(notificationFor(id), EXPIRES)).toBe(true);

    const api = client(apiHandlerFor(s).handler);
    const packed = await api.get(`/notifications/${packedId}`);
    const plain = await api.get(`/notifications/${plainId}`);

    expect(packed.status).toBe(200);
    expect(packed.body.request.body).toBe(loanRequest.body);
    expect(packed.body).toEqual({ ...plain.body, id: packedId });
    // The packed layout keeps the headers in the order they were rendered and sent; a plain
    // item's map comes back from DynamoDB in an order of its own. Beyond that, byte for byte.
    const inSentOrder = {
      ...plain.body,
      request: { ...plain.body.request, headers: { ...loanRequest.headers } },
    };
    expect(packed.rawBody?.replaceAll(packedId, 'ID')).toBe(
      JSON.stringify(inSentOrder).replaceAll(plainId, 'ID'),
    );
    expect(Object.keys(packed.body.request.headers)).toEqual(Object.keys(loanRequest.headers));
  });

  it('reads a request packed with DEFLATE by earlier versions exactly as one packed now', async () => {
    const s = standIns();
    const stores = storesFor(s);
    const webhook = 'wh_PACKPACKPACKPACKPACKPACK01';
    const nowId = notificationIdFor(webhook, 'brotli');
    const oldId = notificationIdFor(webhook, 'deflate');
    await stores.payloads.putOnce(nowId, loanRequest, EXPIRES);
    await s.clients.dynamo.send(
      new PutItemCommand({
        TableName: s.tables.payloads,
        Item: {
          id: { S: oldId },
          packing: { S: PACKING_DEFLATE_JSON },
          request: { B: deflateRawSync(requestJson(loanRequest)) },
          expiresAt: { N: String(EXPIRES) },
        },
      }),
    );
    const raw = async (id: string) =>
      (
        await s.clients.dynamo.send(
          new GetItemCommand({ TableName: s.tables.payloads, Key: { id: { S: id } } }),
        )
      ).Item;
    const now = await raw(nowId);
    const old = await raw(oldId);
    expect(now?.packing?.S).toBe(PACKING_BROTLI_JSON);
    expect(now?.request?.B?.length).toBeLessThan(old?.request?.B?.length ?? 0);
    for (const id of [nowId, oldId])
      expect(await stores.notifications.create(notificationFor(id), EXPIRES)).toBe(true);

    expect(await stores.payloads.get(oldId)).toEqual(loanRequest);
    const api = client(apiHandlerFor(s).handler);
    const viaNow = await api.get(`/notifications/${nowId}`);
    const viaOld = await api.get(`/notifications/${oldId}`);
    expect(viaOld.status).toBe(200);
    expect(viaOld.rawBody?.replaceAll(oldId, 'ID')).toBe(viaNow.rawBody?.replaceAll(nowId, 'ID'));
    expect(Object.keys(viaOld.body.request.headers)).toEqual(Object.keys(loanRequest.headers));
  });
});
