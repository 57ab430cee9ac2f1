/**
 * Erasure by subject without stand-ins: the sealed layout of a stored request about a subject
 * (what stays in clear, what opens it and what does not), and what the history use cases make
 * of an erased request (the erased view, resend refused with 409 ERASED, nothing queued).
 */
import { randomBytes } from 'node:crypto';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { payloadItem } from '../../lambdas/adapters/dynamo-payload-store';
import { PACK_THRESHOLD_BYTES, requestJson } from '../../lambdas/adapters/payload-packing';
import {
  isSealedPayload,
  openSealedPayload,
  sealedPayloadItem,
  urlTemplateHasLiteralHost,
} from '../../lambdas/adapters/payload-sealing';
import { NotificationService } from '../../lambdas/core/api/notifications';
import { ErasedError } from '../../lambdas/core/errors';
import { notificationIdFor } from '../../lambdas/core/ids';
import type { RenderedRequest } from '../../lambdas/core/model';
import { errorResponse } from '../../lambdas/handlers/http/errors';
import type { PayloadStore } from '../../lambdas/ports';
import {
  MemoryDeliveryQueue,
  MemoryNotificationStore,
  MemoryResendJobStore,
  MemorySubjectKeyStore,
  MemoryWebhookStore,
} from '../support/memory-stores';

type Item = Record<string, AttributeValue>;

const ID = notificationIdFor('wh_ERASE', 'evt_1');
const SMALL: RenderedRequest = {
  method: 'POST',
  url: 'https://bank.example:8443/clients/A-7301?name=Alice',
  headers: { 'Content-Type': 'application/json', 'X-Client-Name': 'Alice Forgettable' },
  body: '{"iban":"DE89370400440532013000"}',
};
const LARGE: RenderedRequest = {
  ...SMALL,
  body: JSON.stringify({ iban: 'DE89370400440532013000', notes: 'Alice '.repeat(200) }),
};
const PLAINTEXT = ['A-7301', 'Alice', 'DE89370400440532013000', '/clients/'];

/** Every byte of an item as text, binary attributes included. */
function itemText(item: Item): string {
  return (
    JSON.stringify(item) +
    Object.values(item)
      .map((v) => (v.B ? Buffer.from(v.B).toString('latin1') : ''))
      .join('')
  );
}

describe('a stored request about a subject', () => {
  const key = randomBytes(32);
  const keyId = 'k#subject-hash#0';

  it.each([
    ['small (JSON, not packed)', SMALL, 'json'],
    ['large (packed, then sealed)', LARGE, 'br/json'],
  ])(
    '%s keeps only method and host in clear and opens with its key',
    async (_what, request, format) => {
      expect(Buffer.byteLength(LARGE.body)).toBeGreaterThan(PACK_THRESHOLD_BYTES);
      const item = sealedPayloadItem(ID, request, 2_000_000_000, { keyId, key });

      expect(Object.keys(item).sort()).toEqual(
        ['expiresAt', 'host', 'id', 'method', 'sealed', 'sealedFormat', 'subjectKey'].sort(),
      );
      expect(item).toMatchObject({
        method: { S: 'POST' },
        host: { S: 'bank.example:8443' },
        subjectKey: { S: keyId },
        sealedFormat: { S: format },
      });
      expect(isSealedPayload(item)).toBe(true);
      for (const text of PLAINTEXT) expect(itemText(item)).not.toContain(text);
      expect(await openSealedPayload(item, async (id) => (id === keyId ? key : undefined))).toEqual(
        request,
      );
    },
  );

  it('is erased (method and host left) without its key, with another key, or moved to another notification', async () => {
    const item = sealedPayloadItem(ID, SMALL, 2_000_000_000, { keyId, key });
    const moved = { ...item, id: { S: notificationIdFor('wh_ERASE', 'evt_2') } };
    const erased = {
      name: 'ErasedError',
      code: 'ERASED',
      method: 'POST',
      host: 'bank.example:8443',
    };

    await expect(openSealedPayload(item, async () => undefined)).rejects.toMatchObject(erased);
    await expect(openSealedPayload(item, async () => randomBytes(32))).rejects.toMatchObject(
      erased,
    );
    await expect(openSealedPayload(moved, async () => key)).rejects.toMatchObject(erased);
    const message = await openSealedPayload(item, async () => undefined).catch(
      (e: Error) => e.message,
    );
    for (const text of PLAINTEXT) expect(message).not.toContain(text);
  });

  it("keeps no host in clear when told the host is the subject's data", async () => {
    const item = sealedPayloadItem(ID, SMALL, 2_000_000_000, { keyId, key }, undefined, '');
    expect(item.host).toEqual({ S: '' });
    await expect(openSealedPayload(item, async () => undefined)).rejects.toMatchObject({
      code: 'ERASED',
      host: '',
    });
    expect((await openSealedPayload(item, async () => key)).url).toBe(SMALL.url);
  });

  it('keeps no host in clear when the URL does not parse', async () => {
    const request = { ...SMALL, url: 'Alice Forgettable A-7301' };
    const item = sealedPayloadItem(ID, request, 2_000_000_000, { keyId, key });
    expect(item.host).toEqual({ S: '' });
    for (const text of PLAINTEXT) expect(itemText(item)).not.toContain(text);
    expect((await openSealedPayload(item, async () => key)).url).toBe(request.url);
  });

  it('names the dictionary offered only when the request was packed with it', () => {
    // Naming the dictionary costs more than it could save: Brotli alone, or the plain JSON.
    const dictionary = { ref: 'dictdictdict.700', bytes: requestJson(LARGE), refBytes: 5_000 };
    for (const request of [SMALL, LARGE]) {
      const sealed = sealedPayloadItem(ID, request, 2_000_000_000, { keyId, key }, dictionary);
      const plain = payloadItem(ID, request, 2_000_000_000, dictionary);
      expect(sealed.dict).toBeUndefined();
      expect(plain.dict).toBeUndefined();
    }
    const paying = { ...dictionary, refBytes: 16 };
    const sealed = sealedPayloadItem(ID, LARGE, 2_000_000_000, { keyId, key }, paying);
    expect(sealed).toMatchObject({ sealedFormat: { S: 'zd/json' }, dict: { S: paying.ref } });
    expect(payloadItem(ID, LARGE, 2_000_000_000, paying).dict).toEqual({ S: paying.ref });
  });

  it('becomes unreadable once its subject is erased; the other subjects and later events are not', async () => {
    const keys = new MemorySubjectKeyStore();
    const a = sealedPayloadItem(ID, SMALL, 2_000_000_000, await keys.keyFor('client-A'));
    const b = sealedPayloadItem(ID, SMALL, 2_000_000_000, await keys.keyFor('client-B'));
    const byId = (id: string) => keys.keyById(id);

    const record = await keys.erase('client-A', 'operator', new Date('2026-12-03T10:00:00Z'));
    const later = sealedPayloadItem(ID, SMALL, 2_000_000_000, await keys.keyFor('client-A'));

    await expect(openSealedPayload(a, byId)).rejects.toBeInstanceOf(ErasedError);
    expect(await openSealedPayload(b, byId)).toEqual(SMALL);
    expect(later.subjectKey).not.toEqual(a.subjectKey);
    expect(await openSealedPayload(later, byId)).toEqual(SMALL);
    expect(record).toMatchObject({ subject: 'client-A', erasedBy: 'operator' });
    expect(JSON.stringify(record)).not.toContain('Alice');
  });
});

describe('the history of an erased request', () => {
  async function setup() {
    const notifications = new MemoryNotificationStore();
    await notifications.create(
      {
        id: ID,
        webhookId: 'wh_ERASE',
        eventId: 'evt_1',
        eventType: 'CLIENT_UPDATED',
        createdAt: '2026-12-03T09:00:00.000Z',
        status: 'SENT',
        failureReason: null,
        attempts: [],
        nextAttemptAt: null,
      },
      2_000_000_000,
    );
    const payloads: PayloadStore = {
      putOnce: async () => 'exists',
      get: async () => {
        throw new ErasedError('The request was erased.', 'POST', 'bank.example:8443');
      },
    };
    const queue = new MemoryDeliveryQueue();
    const service = new NotificationService({
      notifications,
      payloads,
      resendJobs: new MemoryResendJobStore(),
      webhooks: new MemoryWebhookStore(),
      queue,
      clock: { now: () => new Date('2026-12-03T10:00:00Z') },
    });
    return { service, queue };
  }

  it('shows the request as erased, with method and host only', async () => {
    const { service } = await setup();
    const detail = await service.get(ID);
    expect(detail.request).toEqual({ erased: true, method: 'POST', host: 'bank.example:8443' });
    expect(detail.status).toBe('SENT');
  });

  it('refuses a resend with 409 ERASED and queues nothing', async () => {
    const { service, queue } = await setup();
    const refused = await service.resendOne(ID).catch((e: unknown) => e);
    const response = errorResponse(refused, { error: () => undefined });
    expect(refused).toBeInstanceOf(ErasedError);
    expect(response.status).toBe(409);
    expect(JSON.stringify(response.body)).toContain('"code":"ERASED"');
    expect(queue.jobs).toEqual([]);
  });
});

describe('which URL templates keep their host readable after an erasure', () => {
  it.each([
    'https://ledger.example.com/loans/{{ data.loanId }}',
    'https://ledger.example.com',
    'https://ledger.example.com:8443?loan={{ data.loanId }}',
    '  http://127.0.0.1:3000/hook#{{ data.x }}',
  ])('literal host: %s', (template) => {
    expect(urlTemplateHasLiteralHost(template)).toBe(true);
  });

  it.each([
    'https://{{ data.tenant }}.example.com/hook',
    'https://api-{{ data.region }}.example.com/hook',
    'https://ledger.example.com{{ data.suffix }}/hook',
    '{{ data.callbackUrl }}',
    '{% if data.eu %}https://eu.example.com{% else %}https://us.example.com{% endif %}/hook',
  ])('host made from the event: %s', (template) => {
    expect(urlTemplateHasLiteralHost(template)).toBe(false);
  });
});
