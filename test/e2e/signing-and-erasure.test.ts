/**
 * Local mode end to end for signing keys and erasure, driven through the HTTP API only, with
 * receivers on 127.0.0.1 that verify what they get the way a partner would:
 *
 * - rotation: after a rotation every request carries both signatures, and the standardwebhooks
 *   library accepts it with the old secret and with the new one; once the grace period is over
 *   only the new one signs (a grace period of seconds, the API takes fractions of an hour);
 * - ed25519: the receiver verifies with node:crypto from the definition's `publicKey` alone, a
 *   tampered body fails; a rotation signs with both key pairs, then with the new one only;
 * - erasure by subject: the body is gone from every API answer, resend is refused (409 ERASED),
 *   bulk resend skips and counts, other subjects are untouched, and all of it holds after a
 *   restart on the same DATA_DIR. The Payloads items, read from DynamoDB Local directly, are
 *   still there and unchanged, and none of the keys left at rest opens them.
 */
import fs from 'node:fs';
import {
  type AttributeValue,
  DynamoDBClient,
  paginateScan,
  type ScanCommandInput,
} from '@aws-sdk/client-dynamodb';
import { installationKeyPath } from '../../lambdas/adapters/installation-key';
import { dictionaryItemsOf, dictionaryOfItem } from '../../lambdas/adapters/payload-dictionary';
import { PACKED_ATTRIBUTES, unpackRequest } from '../../lambdas/adapters/payload-packing';
import { isSealedPayload, openSealedPayload } from '../../lambdas/adapters/payload-sealing';
import { standInCipher, standInNames } from '../../local/standins';
import { eventually } from '../support/eventually';
import { ok, type ReceivedRequest, type Receiver, startReceiver } from '../support/receivers';
import { ed25519Accepts, libraryAccepts, signaturesOf } from '../support/signatures';
import {
  type ApiClient,
  apiClient,
  javaPidsFor,
  killAllLocal,
  type LocalProcess,
  notificationFor,
  notificationWithStatus,
  startLocal,
  tempDataDir,
} from './helpers';

jest.setTimeout(300_000);

type Item = Record<string, AttributeValue>;

/** The DynamoDB Local of a running local mode, found from its Java command line (-port). */
function dynamoOf(dataDir: string): DynamoDBClient {
  // The stand-ins' Node host names the jar too; the JVM is the one given -port.
  const args = javaPidsFor(dataDir)
    .map((pid) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'))
    .find((a) => a.includes('-port'));
  if (args === undefined) throw new Error(`no DynamoDB Local runs for ${dataDir}`);
  const port = args[args.indexOf('-port') + 1];
  return new DynamoDBClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
}

async function scanAll(client: DynamoDBClient, table: string): Promise<Item[]> {
  const items: Item[] = [];
  const input: ScanCommandInput = { TableName: table, ConsistentRead: true };
  for await (const page of paginateScan({ client }, input)) items.push(...(page.Items ?? []));
  return items;
}

/**
 * An item as searchable text: packed requests unpacked (with the dictionary items of the same
 * scan), sealed bytes as they are stored.
 */
function itemText(item: Item, dictionaries: ReadonlyMap<string, Item>): string {
  const packing = item[PACKED_ATTRIBUTES.packing]?.S;
  const bytes = item[PACKED_ATTRIBUTES.request]?.B;
  if (packing !== undefined && bytes !== undefined) {
    const request = unpackRequest(packing, bytes, dictionaryOfItem(item, dictionaries));
    return JSON.stringify({ ...item, request });
  }
  const sealed = item.sealed?.B;
  return sealed === undefined
    ? JSON.stringify(item)
    : JSON.stringify(item) + Buffer.from(sealed).toString('latin1');
}

describe('local mode: signing-key rotation, ed25519 and erasure by subject', () => {
  const dataDir = tempDataDir();
  const receivers: Receiver[] = [];
  const clients: DynamoDBClient[] = [];
  let local: LocalProcess;
  let api: ApiClient;

  beforeAll(async () => {
    local = await startLocal({ dataDir, env: { DEFINITION_CACHE_TTL_SECONDS: '0' } });
    api = apiClient(local.url, local.token);
  }, 120_000);

  afterAll(async () => {
    for (const c of clients) c.destroy();
    await Promise.allSettled(receivers.map((r) => r.close()));
    await killAllLocal();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  async function receiver(): Promise<Receiver> {
    const r = await startReceiver(ok());
    receivers.push(r);
    return r;
  }

  function dynamo(): DynamoDBClient {
    const c = dynamoOf(dataDir);
    clients.push(c);
    return c;
  }

  let counter = 0;
  /** Creates a webhook on its own event type; returns its id, type and creation answer. */
  async function createHook(target: Receiver, signing: Record<string, unknown>) {
    const type = `E2E_KEYS_${counter++}`;
    const created = await api.post('/webhooks', {
      name: `keys ${type}`,
      events: [type],
      url: `${target.url}/hook/{{ data.n }}`,
      body: '{"n": {{ data.n }}, "text": {{ data.text | json }}}',
      ...signing,
    });
    expect(created.status).toBe(201);
    return { id: created.body.id as string, type, created: created.body };
  }

  /** Publishes one event and returns the request its receiver got for it. */
  async function deliverOne(
    hook: { id: string; type: string },
    target: Receiver,
    text: string,
  ): Promise<ReceivedRequest> {
    const n = counter++;
    const accepted = await api.post('/events', { type: hook.type, data: { n, text } });
    expect(accepted.status).toBe(202);
    expect(accepted.body.notifications).toBe(1);
    const ntf = await notificationFor(api, hook.id, accepted.body.eventId);
    await notificationWithStatus(api, ntf.id, 'SENT');
    return eventually(() => target.requests.find((r) => r.url === `/hook/${n}`), {
      what: `the receiver to have /hook/${n}`,
    });
  }

  it('after a rotation requests carry both signatures; the standardwebhooks library accepts the old and the new secret', async () => {
    const target = await receiver();
    const hook = await createHook(target, { signingSecret: 'generate' });
    const oldSecret = hook.created.signingSecret as string;
    expect(oldSecret).toMatch(/^whsec_/);
    const before = await deliverOne(hook, target, 'before rotation');

    const rotated = await api.post(`/webhooks/${hook.id}/signing-secrets/rotate`, {
      graceHours: 24,
    });
    const shown = await api.get(`/webhooks/${hook.id}`);
    const during = await deliverOne(hook, target, 'during the grace period');

    expect(signaturesOf(before)).toHaveLength(1);
    expect(libraryAccepts(oldSecret, before)).toBe(true);
    expect(rotated.status).toBe(200);
    expect(Object.keys(rotated.body)).toEqual(['secret']);
    const newSecret = rotated.body.secret as string;
    expect(newSecret).toMatch(/^whsec_/);
    expect(newSecret).not.toBe(oldSecret);
    expect(shown.body.signingSecret).toBe('whsec_***');
    expect(Date.parse(shown.body.signingGraceUntil)).toBeGreaterThan(Date.now() + 23 * 3_600_000);
    expect(JSON.stringify(shown.body)).not.toContain(newSecret.slice('whsec_'.length));
    expect(during.headers['webhook-signature']).toMatch(/^v1,\S+ v1,\S+$/);
    expect(libraryAccepts(oldSecret, during)).toBe(true);
    expect(libraryAccepts(newSecret, during)).toBe(true);
    // A third secret does not: the check can fail.
    expect(libraryAccepts(`whsec_${Buffer.alloc(32, 7).toString('base64')}`, during)).toBe(false);
  });

  it('an ed25519 webhook delivers requests the receiver verifies from the public key alone; a tampered body fails', async () => {
    const target = await receiver();
    const hook = await createHook(target, { signing: { scheme: 'ed25519' } });
    const shown = await api.get(`/webhooks/${hook.id}`);
    const publicKey = shown.body.publicKey as string;
    const req = await deliverOne(hook, target, 'asymmetric');
    const other = await createHook(target, { signing: { scheme: 'ed25519' } });

    expect(hook.created.signing).toEqual({ scheme: 'ed25519' });
    expect(hook.created.signingSecret).toBeNull();
    expect(publicKey).toMatch(/^whpk_[A-Za-z0-9+/]{43}=$/);
    expect(publicKey).toBe(hook.created.publicKey);
    expect(JSON.stringify(shown.body)).not.toMatch(/whsk_|privateKey/);
    expect(req.headers['webhook-signature']).toMatch(/^v1a,[A-Za-z0-9+/]{86}==$/);
    expect(ed25519Accepts(publicKey, req)).toBe(true);
    expect(ed25519Accepts(publicKey, req, req.body.replace('asymmetric', 'asymmetriC'))).toBe(
      false,
    );
    expect(ed25519Accepts(other.created.publicKey, req)).toBe(false);
  });

  it('an ed25519 rotation signs with both key pairs during the grace period', async () => {
    const target = await receiver();
    const hook = await createHook(target, { signing: { scheme: 'ed25519' } });
    const oldKey = hook.created.publicKey as string;

    const rotated = await api.post(`/webhooks/${hook.id}/signing-secrets/rotate`, {
      graceHours: 24,
    });
    const shown = await api.get(`/webhooks/${hook.id}`);
    const req = await deliverOne(hook, target, 'rotated pair');

    expect(rotated.status).toBe(200);
    expect(Object.keys(rotated.body)).toEqual(['publicKey']);
    const newKey = rotated.body.publicKey as string;
    expect(newKey).not.toBe(oldKey);
    expect(shown.body.publicKey).toBe(newKey);
    expect(req.headers['webhook-signature']).toMatch(/^v1a,\S+ v1a,\S+$/);
    expect(ed25519Accepts(oldKey, req)).toBe(true);
    expect(ed25519Accepts(newKey, req)).toBe(true);
  });

  it.each([
    ['an HMAC secret', { signingSecret: 'generate' }],
    ['an ed25519 key pair', { signing: { scheme: 'ed25519' } }],
  ])('once the grace period of %s is over only the new key signs', async (_what, signing) => {
    const target = await receiver();
    const hook = await createHook(target, signing);
    // 0.001 h: the grace period ends about 3.6 s after the rotation.
    const rotated = await api.post(`/webhooks/${hook.id}/signing-secrets/rotate`, {
      graceHours: 0.001,
    });
    expect(rotated.status).toBe(200);
    const graceUntil = (await api.get(`/webhooks/${hook.id}`)).body.signingGraceUntil as string;
    await eventually(
      async () => {
        const got = await api.get(`/webhooks/${hook.id}`);
        return got.body.signingGraceUntil === null && Date.now() > Date.parse(graceUntil)
          ? true
          : undefined;
      },
      { timeoutMs: 60_000, what: 'the grace period to end' },
    );

    const req = await deliverOne(hook, target, 'after the grace period');

    expect(Date.parse(graceUntil)).toBeGreaterThan(0);
    expect(signaturesOf(req)).toHaveLength(1);
    expect(Number(req.headers['webhook-timestamp']) * 1000).toBeGreaterThanOrEqual(
      Math.floor(Date.parse(graceUntil) / 1000) * 1000,
    );
    if ('signingSecret' in signing) {
      expect(libraryAccepts(rotated.body.secret, req)).toBe(true);
      expect(libraryAccepts(hook.created.signingSecret, req)).toBe(false);
    } else {
      expect(ed25519Accepts(rotated.body.publicKey, req)).toBe(true);
      expect(ed25519Accepts(hook.created.publicKey, req)).toBe(false);
    }
  });

  it('erasing a subject makes its requests unreadable everywhere, for good, across a restart, and leaves others alone', async () => {
    const target = await receiver();
    const type = 'E2E_CLIENT_UPDATED';
    const created = await api.post('/webhooks', {
      name: 'client data',
      events: [type],
      url: `${target.url}/clients/{{ data.clientId }}`,
      headers: { 'X-Client-Name': '{{ data.name }}' },
      body: '{"client": {{ data.clientId | json }}, "name": {{ data.name | json }}, "iban": {{ data.iban | json }}}',
      signingSecret: 'generate',
    });
    expect(created.status).toBe(201);
    const hookId = created.body.id as string;
    const host = new URL(target.url).host;

    // Two events about client-A, one about client-B, one without a subject.
    const erasedTexts = ['A-7301', 'Alice Forgettable', 'DE89370400440532013000'];
    const publish = async (subject: string | undefined, data: Record<string, string>) => {
      const res = await api.post('/events', { type, data, ...(subject ? { subject } : {}) });
      expect(res.status).toBe(202);
      const ntf = await notificationFor(api, hookId, res.body.eventId);
      return (await notificationWithStatus(api, ntf.id, 'SENT')).id as string;
    };
    const a1 = await publish('client-A', {
      clientId: 'A-7301',
      name: 'Alice Forgettable',
      iban: 'DE89370400440532013000',
    });
    const a2 = await publish('client-A', {
      clientId: 'A-7301',
      name: 'Alice Forgettable',
      iban: 'DE89370400440532013000',
    });
    const b = await publish('client-B', {
      clientId: 'B-1188',
      name: 'Bob Kept',
      iban: 'FR7630006000011234567890189',
    });
    const plain = await publish(undefined, {
      clientId: 'P-4410',
      name: 'Paula Plain',
      iban: 'NL91ABNA0417164300',
    });
    const readableBefore = await api.get(`/notifications/${a1}`);
    const payloadsTable = standInNames().tables.payloads;
    const itemsBefore = new Map(
      (await scanAll(dynamo(), payloadsTable)).map((i) => [i.id!.S!, i] as const),
    );

    const erased = await api.post('/subjects/client-A/erase');

    /** Everything the API answers about this webhook's history, as one text. */
    const historyText = async () => {
      const answers: unknown[] = [(await api.get(`/notifications?webhookId=${hookId}`)).body];
      for (const id of [a1, a2, b, plain])
        answers.push((await api.get(`/notifications/${id}`)).body);
      return JSON.stringify(answers);
    };
    /** What an erased notification shows, resend, and the other requests: checked before and after a restart. */
    const checkErased = async () => {
      for (const id of [a1, a2]) {
        const got = await api.get(`/notifications/${id}`);
        expect(got.status).toBe(200);
        expect(got.body.status).toBe('SENT');
        expect(got.body.request).toEqual({ erased: true, method: 'POST', host });
        expect(got.body.attempts).toHaveLength(1);
        expect(got.body.attempts[0]).toMatchObject({ outcome: 'SENT', statusCode: 200 });
        const resend = await api.post(`/notifications/${id}/resend`);
        expect(resend.status).toBe(409);
        expect(resend.body.error.code).toBe('ERASED');
      }
      const list = await api.get(`/notifications?webhookId=${hookId}`);
      expect(list.body.items.map((n: { id: string }) => n.id).sort()).toEqual(
        [a1, a2, b, plain].sort(),
      );
      const text = await historyText();
      for (const secret of [...erasedTexts, '/clients/A-']) expect(text).not.toContain(secret);
      // The same answers still carry the other subject's and the subject-less request.
      for (const kept of ['Bob Kept', 'FR7630006000011234567890189', 'Paula Plain'])
        expect(text).toContain(kept);
      const bRequest = (await api.get(`/notifications/${b}`)).body.request;
      expect(bRequest.url).toBe(`${target.url}/clients/B-1188`);
      expect(bRequest.headers['X-Client-Name']).toBe('Bob Kept');
    };
    /** The Payloads items: still there and unchanged, and no key at rest opens client-A's. */
    const checkTables = async () => {
      const client = dynamo();
      const items = await scanAll(client, payloadsTable);
      const byId = new Map(items.map((i) => [i.id!.S!, i] as const));
      const dictionaries = dictionaryItemsOf(items);
      const cipher = standInCipher({ keyFile: installationKeyPath(dataDir) });
      const keys: Buffer[] = [];
      const audit: Item[] = [];
      for (const k of await scanAll(client, standInNames().tables.subjectKeys)) {
        const id = k.id?.S ?? '';
        if (id.startsWith('k#') && k.wrapped?.S)
          keys.push(Buffer.from(await cipher.open(k.wrapped.S, id), 'base64'));
        if (id.startsWith('a#')) audit.push(k);
      }
      // The erasure is recorded: who, when, which subject, and nothing of the data.
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({
        id: { S: erased.body.auditId },
        subject: { S: 'client-A' },
        erasedBy: { S: erased.body.erasedBy },
        erasedAt: { S: erased.body.erasedAt },
      });
      for (const secret of erasedTexts) expect(JSON.stringify(audit)).not.toContain(secret);
      const opensWithSomeKey = async (item: Item) => {
        for (const key of keys) {
          const opened = await openSealedPayload(
            item,
            async () => key,
            dictionaryOfItem(item, dictionaries),
          ).catch(() => undefined);
          if (opened) return opened;
        }
        return undefined;
      };
      const text = items.map((item) => itemText(item, dictionaries)).join('\n');
      for (const id of [a1, a2]) {
        expect(byId.get(id)).toEqual(itemsBefore.get(id));
        expect(isSealedPayload(byId.get(id)!)).toBe(true);
        expect(await opensWithSomeKey(byId.get(id)!)).toBeUndefined();
      }
      for (const secret of [...erasedTexts, '/clients/A-']) expect(text).not.toContain(secret);
      // Positive controls: the same scan reads the subject-less request, and client-B's key opens its item.
      expect(text).toContain('Paula Plain');
      expect((await opensWithSomeKey(byId.get(b)!))?.body).toContain('Bob Kept');
      return { keys: keys.length };
    };

    expect(readableBefore.body.request.body).toContain('Alice Forgettable');
    expect(readableBefore.body.request.headers['X-Client-Name']).toBe('Alice Forgettable');
    expect(readableBefore.body.request.url).toBe(`${target.url}/clients/A-7301`);
    expect(erased.status).toBe(202);
    expect(erased.body).toMatchObject({ subject: 'client-A', erasedBy: expect.any(String) });
    expect(Date.parse(erased.body.erasedAt)).toBeGreaterThan(0);
    expect(JSON.stringify(erased.body)).not.toContain('Alice');
    await checkErased();
    expect(await checkTables()).toEqual({ keys: 1 });

    // Bulk resend: the erased ones are skipped and counted, client-B's goes out again.
    target.requests.length = 0;
    const bulk = await api.post('/notifications/resend', { ids: [a1, b, a2] });
    expect(bulk.status).toBe(202);
    const progress = await eventually(
      async () => {
        const job = await api.get(`/notifications/resend/${bulk.body.jobId}`);
        return job.body.sent + job.body.failed + job.body.erased === 3 ? job.body : undefined;
      },
      { timeoutMs: 60_000, what: 'the bulk resend to finish' },
    );
    expect(progress).toMatchObject({ count: 3, sent: 1, failed: 0, erased: 2 });
    expect(target.requests.map((r) => r.url)).toEqual(['/clients/B-1188']);

    // Stop the platform and start it again on the same DATA_DIR: the erasure holds.
    const stopped = await local.stop('SIGTERM');
    expect(stopped.code).toBe(0);
    local = await startLocal({ dataDir, env: { DEFINITION_CACHE_TTL_SECONDS: '0' } });
    api = apiClient(local.url, local.token);
    await checkErased();
    expect(await checkTables()).toEqual({ keys: 1 });

    // A later event about the same subject is stored under a new key and readable.
    const later = await publish('client-A', {
      clientId: 'A-7301',
      name: 'Alice Returns',
      iban: 'DE02120300000000202051',
    });
    expect((await api.get(`/notifications/${later}`)).body.request.body).toContain('Alice Returns');
    expect((await api.get(`/notifications/${a1}`)).body.request.erased).toBe(true);
  });
});
