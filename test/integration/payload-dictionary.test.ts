/**
 * Stored requests packed with their webhook's template dictionary, against DynamoDB Local: the
 * delivery writes the dictionary once, before the first request that refers to it; each
 * request item is smaller than Brotli alone makes it; the API answers the request exactly as
 * the receiver got it, from a cold store as from a warm one, sealed (about a subject) or not.
 * A dictionary name already taken by other bytes means packing without it; a missing
 * dictionary is an error, never another request.
 */
import {
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { createAwsClients } from '../../lambdas/adapters/aws-clients';
import { DynamoPayloadStore } from '../../lambdas/adapters/dynamo-stores';
import {
  DICTIONARY_ID_PREFIX,
  dictionaryItemId,
  dictionaryRef,
  templateDictionary,
} from '../../lambdas/adapters/payload-dictionary';
import {
  PACKING_BROTLI_JSON,
  PACKING_DICTIONARY_JSON,
} from '../../lambdas/adapters/payload-packing';
import { DynamoSubjectKeyStore } from '../../lambdas/adapters/subject-keys';
import { ErasedError } from '../../lambdas/core/errors';
import type { WebhookDefinition } from '../../lambdas/core/model';
import { Renderer } from '../../lambdas/core/render';
import { buildRenderContext } from '../../lambdas/core/render-context';
import { standInCipher } from '../../local/standins';
import { apiHandlerFor } from '../support/api-harness';
import { client } from '../support/apigw';
import { definition, deliverJob, event, useDeliveryHarness } from '../support/delivery-harness';
import { LOAN_BODY_TEMPLATE, loanData } from '../support/loan-template';
import { useStandIns } from '../support/standins';

const standIns = useStandIns();
const EXPIRES = 2_000_000_000;

async function rawItem(id: string) {
  const s = standIns();
  return (
    await s.clients.dynamo.send(
      new GetItemCommand({ TableName: s.tables.payloads, Key: { id: { S: id } } }),
    )
  ).Item;
}

async function dictionaryItems() {
  const s = standIns();
  const out = await s.clients.dynamo.send(
    new ScanCommand({
      TableName: s.tables.payloads,
      FilterExpression: 'begins_with(id, :p)',
      ExpressionAttributeValues: { ':p': { S: DICTIONARY_ID_PREFIX } },
      ConsistentRead: true,
    }),
  );
  return out.Items ?? [];
}

function rendered(def: WebhookDefinition, n: number, id: string) {
  const evt = event(loanData(n));
  return new Renderer().render(def, buildRenderContext(def, evt, id));
}

describe('stored requests packed with their template dictionary', () => {
  const { harness, receiver } = useDeliveryHarness(standIns);

  it('writes the dictionary once, before the requests that need it, and answers each request as the receiver got it', async () => {
    const def = definition({
      url: `${receiver.url}/loans/{{ data.loanId }}?source=core`,
      headers: { 'X-Loan': '{{ data.loanId }}', 'X-Source': 'core-banking' },
      body: LOAN_BODY_TEMPLATE,
    });
    await harness.webhooks.put(def);
    const before = (await dictionaryItems()).length;
    const ids: string[] = [];
    for (let n = 1; n <= 3; n++) {
      const job = deliverJob(def, event(loanData(n)));
      await harness.service.handleJob(job);
      ids.push(job.notificationId);
    }

    const dictionaries = await dictionaryItems();
    expect(dictionaries).toHaveLength(before + 1);
    const stored = templateDictionary(def)!;
    const ref = dictionaryRef(stored, Number((await rawItem(ids[0]!))?.expiresAt?.N));
    const dictionary = await rawItem(ref.itemId);
    expect(Buffer.from(dictionary?.dictionary?.B ?? []).equals(stored)).toBe(true);
    expect(Number(dictionary?.expiresAt?.N)).toBeGreaterThanOrEqual(
      Number((await rawItem(ids[2]!))?.expiresAt?.N),
    );
    // No event data in the dictionary: it is the templates' static text.
    expect(Buffer.from(dictionary?.dictionary?.B ?? []).toString()).not.toMatch(/LN-2026|Client/);

    const api = client(apiHandlerFor(standIns()).handler);
    for (const [i, id] of ids.entries()) {
      const item = await rawItem(id);
      expect(item?.packing?.S).toBe(PACKING_DICTIONARY_JSON);
      expect(item?.dict?.S).toBe(ref.ref);
      const received = receiver.requests[receiver.requests.length - 3 + i]!;
      const got = await api.get(`/notifications/${id}`);
      expect(got.status).toBe(200);
      expect(got.body.request.body).toBe(received.body);
      expect(got.body.request.url).toBe(`${receiver.url}${received.url}`);
      expect(got.body.request.headers['X-Loan']).toBe(received.headers['x-loan']);
      // A cold store (another environment) reads it the same.
      const cold = new DynamoPayloadStore(standIns().clients.dynamo, standIns().tables.payloads);
      expect(await cold.get(id)).toEqual(got.body.request);
    }
  });

  it('writes the dictionary before the request, which takes one write unit and less room than with Brotli alone', async () => {
    const s = standIns();
    const dynamo = createAwsClients(s.env).dynamo;
    const puts: { id: string; units: number }[] = [];
    dynamo.middlewareStack.add(
      (next) => async (args) => {
        const input = args.input as {
          Item?: { id?: { S?: string } };
          ReturnConsumedCapacity?: string;
        };
        input.ReturnConsumedCapacity = 'TOTAL';
        const id = input.Item?.id?.S;
        const result = await next(args);
        const units = (result.output as { ConsumedCapacity?: { CapacityUnits?: number } })
          .ConsumedCapacity?.CapacityUnits;
        if (id !== undefined) puts.push({ id, units: units ?? -1 });
        return result;
      },
      { step: 'initialize', name: 'testPutOrder' },
    );
    const def = definition({
      url: 'https://ledger.example.com/loans/{{ data.loanId }}',
      body: LOAN_BODY_TEMPLATE,
    });
    const store = new DynamoPayloadStore(dynamo, s.tables.payloads);
    const request = rendered(def, 42, 'ntf_DICTSIZEDICTSIZEDICTSIZE42');
    await store.putOnce('ntf_DICTSIZEDICTSIZEDICTSIZE42', request, EXPIRES);
    await store.putOnce('ntf_DICTSIZEDICTSIZEDICTSIZE43', request, EXPIRES, undefined, def);
    await store.putOnce('ntf_DICTSIZEDICTSIZEDICTSIZE44', request, EXPIRES, undefined, def);
    // Another environment finds it there and does not write it again.
    const cold = new DynamoPayloadStore(dynamo, s.tables.payloads);
    await cold.putOnce('ntf_DICTSIZEDICTSIZEDICTSIZE45', request, EXPIRES, undefined, def);
    const ref = dictionaryRef(templateDictionary(def)!, EXPIRES);
    // The dictionary once (a warm store remembers it), before the first request needing it.
    expect(puts.map((p) => p.id)).toEqual([
      'ntf_DICTSIZEDICTSIZEDICTSIZE42',
      ref.itemId,
      'ntf_DICTSIZEDICTSIZEDICTSIZE43',
      'ntf_DICTSIZEDICTSIZEDICTSIZE44',
      'ntf_DICTSIZEDICTSIZEDICTSIZE45',
    ]);
    expect((await rawItem('ntf_DICTSIZEDICTSIZEDICTSIZE45'))?.dict?.S).toBe(ref.ref);
    expect(puts[2]?.units).toBe(1);
    const alone = await rawItem('ntf_DICTSIZEDICTSIZEDICTSIZE42');
    const withDictionary = await rawItem('ntf_DICTSIZEDICTSIZEDICTSIZE43');
    expect(alone?.packing?.S).toBe(PACKING_BROTLI_JSON);
    expect(withDictionary?.packing?.S).toBe(PACKING_DICTIONARY_JSON);
    const size = (item: typeof alone) =>
      Object.entries(item ?? {}).reduce(
        (a, [k, v]) => a + k.length + (v.B?.length ?? v.S?.length ?? v.N?.length ?? 0),
        0,
      );
    expect(size(withDictionary)).toBeLessThan(size(alone));
    expect(await store.get('ntf_DICTSIZEDICTSIZEDICTSIZE43')).toEqual(request);
  });

  it('seals a request about a subject packed with the dictionary, and erasing the subject still erases it', async () => {
    const s = standIns();
    const subjectKeys = new DynamoSubjectKeyStore(
      s.clients.dynamo,
      s.tables.subjectKeys,
      standInCipher(s),
    );
    const store = new DynamoPayloadStore(s.clients.dynamo, s.tables.payloads, subjectKeys);
    const def = definition({
      url: 'https://crm.example.com/clients/{{ data.customerId }}',
      body: LOAN_BODY_TEMPLATE,
    });
    const id = 'ntf_DICTSEALDICTSEALDICTSEAL01';
    const request = rendered(def, 7, id);
    await store.putOnce(id, request, EXPIRES, 'client-dict-7', def);
    const item = await rawItem(id);
    expect(item?.sealedFormat?.S).toBe(PACKING_DICTIONARY_JSON);
    expect(item?.dict?.S).toBeDefined();
    expect(JSON.stringify(item)).not.toMatch(/Client Number 7|CUS-00000007/);
    expect(await store.get(id)).toEqual(request);

    await subjectKeys.erase('client-dict-7', 'test', new Date());
    await expect(store.get(id)).rejects.toBeInstanceOf(ErasedError);
  });

  it('packs without the dictionary when its name holds other bytes', async () => {
    const s = standIns();
    const def = definition({
      url: 'https://ledger.example.com/taken/{{ data.loanId }}',
      body: LOAN_BODY_TEMPLATE,
    });
    const id = 'ntf_DICTTAKENDICTTAKENDICTTA1';
    const ref = dictionaryRef(templateDictionary(def)!, EXPIRES);
    await s.clients.dynamo.send(
      new PutItemCommand({
        TableName: s.tables.payloads,
        Item: {
          id: { S: ref.itemId },
          dictionary: { B: Buffer.from('other bytes under the same name') },
          expiresAt: { N: String(ref.expiresAt) },
        },
      }),
    );
    const store = new DynamoPayloadStore(s.clients.dynamo, s.tables.payloads);
    const request = rendered(def, 9, id);
    expect(await store.putOnce(id, request, EXPIRES, undefined, def)).toBe('created');
    const item = await rawItem(id);
    expect(item?.packing?.S).toBe(PACKING_BROTLI_JSON);
    expect(item?.dict).toBeUndefined();
    expect(await store.get(id)).toEqual(request);
  });

  it('fails loudly when a dictionary is missing, and answers nothing once the request has expired', async () => {
    const s = standIns();
    const def = definition({
      url: 'https://ledger.example.com/gone/{{ data.loanId }}',
      body: LOAN_BODY_TEMPLATE,
    });
    const store = new DynamoPayloadStore(s.clients.dynamo, s.tables.payloads);
    const live = 'ntf_DICTGONEDICTGONEDICTGONE01';
    const expired = 'ntf_DICTGONEDICTGONEDICTGONE02';
    const past = Math.floor(Date.now() / 1000) - 3600;
    await store.putOnce(live, rendered(def, 1, live), EXPIRES, undefined, def);
    await store.putOnce(expired, rendered(def, 2, expired), past, undefined, def);
    for (const id of [live, expired]) {
      const ref = (await rawItem(id))?.dict?.S;
      expect(ref).toBeDefined();
      await s.clients.dynamo.send(
        new DeleteItemCommand({
          TableName: s.tables.payloads,
          Key: { id: { S: dictionaryItemId(ref!) } },
        }),
      );
    }
    const cold = new DynamoPayloadStore(s.clients.dynamo, s.tables.payloads);
    await expect(cold.get(live)).rejects.toThrow(/refers to dictionary .* which is missing/);
    expect(await cold.get(expired)).toBeUndefined();
  });

  it('never answers a dictionary item as a stored request', async () => {
    const s = standIns();
    const store = new DynamoPayloadStore(s.clients.dynamo, s.tables.payloads);
    const [any] = await dictionaryItems();
    expect(any?.id?.S).toBeDefined();
    expect(await store.get(any!.id!.S!)).toBeUndefined();
  });
});
