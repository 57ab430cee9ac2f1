/**
 * Erasure by subject against DynamoDB Local: requests about a subject are stored sealed with
 * the subject's key; erasing the subject destroys the key. The Payloads items are never
 * changed, yet neither the API nor the table reveals the body, the templated URL or the
 * header values any more; resend is refused, bulk resend skips and counts, other subjects
 * and later events are untouched, and the erasure is recorded without the data. A retry or a
 * repeated delivery job that meets an erased request sends nothing and ends FAILED (ERASED).
 */
import {
  type DynamoDBClient,
  GetItemCommand,
  ScanCommand,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoPayloadStore } from '../../lambdas/adapters/dynamo-stores';
import { DynamoSubjectKeyStore } from '../../lambdas/adapters/subject-keys';
import { MAX_SUBJECT_LENGTH } from '../../lambdas/core/events';
import { notificationIdFor } from '../../lambdas/core/ids';
import type { DeliveryJob } from '../../lambdas/core/model';
import { standInCipher } from '../../local/standins';
import { apiHandlerFor, drainQueue, ingestHandlerFor } from '../support/api-harness';
import { client } from '../support/apigw';
import {
  createDeliveryHarness,
  definition,
  event,
  useDeliveryHarness,
} from '../support/delivery-harness';
import { always, startReceiver } from '../support/receivers';
import { useStandIns } from '../support/standins';

const standIns = useStandIns();

describe('erasure by subject', () => {
  const { harness, receiver } = useDeliveryHarness(standIns);

  async function rawPayload(id: string) {
    const s = standIns();
    const out = await s.clients.dynamo.send(
      new GetItemCommand({ TableName: s.tables.payloads, Key: { id: { S: id } } }),
    );
    return out.Item;
  }

  it('makes the requests of one subject unreadable for good, and nothing else', async () => {
    const def = definition({
      url: `${receiver.url}/clients/{{ data.clientId }}`,
      headers: { 'X-Client-Name': '{{ data.name }}' },
      body: '{"client": {{ data.clientId | json }}, "name": {{ data.name | json }}}',
    });
    await harness.webhooks.put(def);
    const deliver = async (subject: string | undefined, clientId: string, name: string) => {
      const evt = { ...event({ clientId, name }), ...(subject ? { subject } : {}) };
      const job: DeliveryJob = {
        kind: 'deliver',
        notificationId: notificationIdFor(def.id, evt.id),
        webhookId: def.id,
        event: evt,
      };
      await harness.service.handleJob(job);
      return job.notificationId;
    };
    const a1 = await deliver('client-A', 'A-1001', 'Alice Erasable');
    const a2 = await deliver('client-A', 'A-1001', 'Alice Again');
    const b = await deliver('client-B', 'B-2002', 'Bob Kept');
    const plain = await deliver(undefined, 'P-3003', 'Paula Plain');
    expect(receiver.requests.map((r) => r.url)).toEqual([
      '/clients/A-1001',
      '/clients/A-1001',
      '/clients/B-2002',
      '/clients/P-3003',
    ]);

    // At rest: a subject's request keeps only method and host in clear.
    const before = await rawPayload(a1);
    const beforeText = JSON.stringify(before);
    for (const secret of ['A-1001', 'Alice', '/clients/']) expect(beforeText).not.toContain(secret);
    expect(before).toMatchObject({
      method: { S: 'POST' },
      host: { S: new URL(receiver.url).host },
    });
    expect(JSON.stringify(await rawPayload(plain))).toContain('Paula Plain');

    const { handler } = apiHandlerFor(standIns());
    const api = client(handler);
    const readable = await api.get(`/notifications/${a1}`);
    expect(readable.body.request.body).toContain('Alice Erasable');
    expect(readable.body.request.headers['X-Client-Name']).toBe('Alice Erasable');

    // Erase.
    const erased = await api.post('/subjects/client-A/erase', undefined);
    expect(erased.status).toBe(202);
    expect(erased.body).toMatchObject({
      subject: 'client-A',
      erasedBy: 'arn:aws:iam::123456789012:user/operator',
    });

    for (const id of [a1, a2]) {
      const got = await api.get(`/notifications/${id}`);
      expect(got.status).toBe(200);
      expect(got.body.request).toEqual({
        erased: true,
        method: 'POST',
        host: new URL(receiver.url).host,
      });
      const text = JSON.stringify(got.body);
      for (const secret of ['A-1001', 'Alice', '/clients/']) expect(text).not.toContain(secret);
      const resend = await api.post(`/notifications/${id}/resend`, undefined);
      expect(resend.status).toBe(409);
      expect(resend.body.error.code).toBe('ERASED');
    }
    // The Payloads item itself never changed (write-once).
    expect(await rawPayload(a1)).toEqual(before);
    // Other subjects and requests without a subject read as before.
    expect((await api.get(`/notifications/${b}`)).body.request.body).toContain('Bob Kept');
    expect((await api.get(`/notifications/${plain}`)).body.request.body).toContain('Paula');

    // Bulk resend skips the erased ones and counts them.
    const s = standIns();
    await drainQueue(s.clients.sqs, s.queueUrl, 0);
    const bulk = await api.post('/notifications/resend', { ids: [a1, b, a2] });
    expect(bulk.status).toBe(202);
    receiver.requests.length = 0;
    for (const job of await drainQueue(s.clients.sqs, s.queueUrl))
      await harness.service.handleJob(job);
    const progress = await api.get(`/notifications/resend/${bulk.body.jobId}`);
    expect(progress.body).toMatchObject({ count: 3, sent: 1, failed: 0, erased: 2 });
    expect(receiver.requests.map((r) => r.url)).toEqual(['/clients/B-2002']);

    // Erasure holds for a fresh process (new caches, keys read from the table).
    const fresh = new DynamoPayloadStore(
      s.clients.dynamo,
      s.tables.payloads,
      new DynamoSubjectKeyStore(s.clients.dynamo, s.tables.subjectKeys, standInCipher(s)),
    );
    await expect(fresh.get(a1)).rejects.toMatchObject({ code: 'ERASED' });
    expect((await fresh.get(b))?.body).toContain('Bob Kept');

    // Later events about the subject are stored (under a new key) and readable.
    const later = await deliver('client-A', 'A-1001', 'Alice Returns');
    expect((await api.get(`/notifications/${later}`)).body.request.body).toContain('Alice Returns');

    // The erasure is recorded: who, when, which subject; no erased data.
    const audit = await s.clients.dynamo.send(new ScanCommand({ TableName: s.tables.subjectKeys }));
    const entries = (audit.Items ?? []).filter((i) => i.id?.S?.startsWith('a#'));
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      subject: { S: 'client-A' },
      erasedBy: { S: 'arn:aws:iam::123456789012:user/operator' },
      erasedAt: { S: erased.body.erasedAt },
    });
    expect(JSON.stringify(entries[0])).not.toContain('Alice');
  });

  it('a retry pending when its subject is erased sends nothing more and ends FAILED with ERASED', async () => {
    const failing = await startReceiver(always(503));
    const starts: string[] = [];
    // Retries are started by hand below, after the erasure (no timer races it).
    const held = createDeliveryHarness(standIns(), {
      scheduler: { start: async (input) => void starts.push(input.notificationId) },
    });
    try {
      const def = definition({
        url: `${failing.url}/clients/{{ data.clientId }}`,
        body: '{"name": {{ data.name | json }}}',
      });
      await held.webhooks.put(def);
      const evt = { ...event({ clientId: 'C-1', name: 'Carol Pending' }), subject: 'client-C' };
      const id = notificationIdFor(def.id, evt.id);
      await held.service.handleJob({
        kind: 'deliver',
        notificationId: id,
        webhookId: def.id,
        event: evt,
      });
      const waiting = await held.notifications.get(id);

      const api = client(apiHandlerFor(standIns()).handler);
      expect((await api.post('/subjects/client-C/erase', undefined)).status).toBe(202);
      const out = await held.attempt({ action: 'attempt', notificationId: id, retry: 1 });
      const ended = await held.notifications.get(id);
      const shown = await api.get(`/notifications/${id}`);

      expect(waiting).toMatchObject({ status: 'WAITING' });
      expect(starts).toEqual([id]);
      expect(out).toMatchObject({ notificationId: id, done: true });
      expect(ended).toMatchObject({ status: 'FAILED', failureReason: 'ERASED' });
      expect(ended!.attempts).toHaveLength(1);
      expect(failing.requests).toHaveLength(1);
      expect(shown.body.request).toEqual({
        erased: true,
        method: 'POST',
        host: new URL(failing.url).host,
      });
      expect(JSON.stringify(shown.body)).not.toContain('Carol');
    } finally {
      await held.close();
      await failing.close();
    }
  });

  it('a delivery job repeated after the erasure of its stored request sends nothing and ends FAILED with ERASED', async () => {
    const def = definition({ url: `${receiver.url}/clients/{{ data.clientId }}` });
    await harness.webhooks.put(def);
    const evt = { ...event({ clientId: 'D-1' }), subject: 'client-D' };
    const id = notificationIdFor(def.id, evt.id);
    // The first run stored the request and stopped before recording an attempt.
    await harness.payloads.putOnce(
      id,
      { method: 'POST', url: `${receiver.url}/clients/D-1`, headers: {}, body: '{"d":"Dora"}' },
      Math.floor(Date.now() / 1000) + 3600,
      'client-D',
    );
    const api = client(apiHandlerFor(standIns()).handler);
    expect((await api.post('/subjects/client-D/erase', undefined)).status).toBe(202);
    receiver.requests.length = 0;

    // Its message, handed out again after the visibility timeout.
    await harness.service.handleJob(
      { kind: 'deliver', notificationId: id, webhookId: def.id, event: evt },
      { receiveCount: 2 },
    );

    expect(receiver.requests).toEqual([]);
    expect(await harness.notifications.get(id)).toMatchObject({
      status: 'FAILED',
      failureReason: 'ERASED',
      attempts: [],
    });
  });
  it('an erase that failed partway and is retried leaves the request unreadable, wherever it failed', async () => {
    const s = standIns();
    const expiresAt = Math.floor(Date.now() / 1000) + 3600;
    const request = {
      method: 'POST' as const,
      url: `${receiver.url}/clients/E-1`,
      headers: {},
      body: '{"name":"Erin Partial"}',
    };
    // The erasing side's DynamoDB calls, the `failAt`-th of them failing as an outage would.
    let calls = 0;
    let failAt = 0;
    const flaky = {
      send: (command: unknown) => {
        calls += 1;
        if (calls === failAt)
          return Promise.reject(
            Object.assign(new Error('injected outage'), { name: 'ServiceUnavailable' }),
          );
        return s.clients.dynamo.send(command as never);
      },
    } as unknown as typeof s.clients.dynamo;
    const erasing = new DynamoSubjectKeyStore(flaky, s.tables.subjectKeys, standInCipher(s));

    let failedOnce = true;
    for (failAt = 1; failedOnce; failAt++) {
      const subject = `client-partial-${failAt}`;
      const id = `ntf_PARTIAL${String(failAt).padStart(4, '0')}`;
      await harness.payloads.putOnce(id, request, expiresAt, subject);
      calls = 0;
      failedOnce = await erasing.erase(subject, 'operator', new Date()).then(
        () => false,
        () => true,
      );
      // The client retries a failed call (a 5xx); the retry succeeds.
      if (failedOnce) await erasing.erase(subject, 'operator', new Date());

      // A reader with no cache of its own, as the api is after a cold start.
      const fresh = new DynamoPayloadStore(
        s.clients.dynamo,
        s.tables.payloads,
        new DynamoSubjectKeyStore(s.clients.dynamo, s.tables.subjectKeys, standInCipher(s)),
      );
      await expect(fresh.get(id)).rejects.toMatchObject({ code: 'ERASED' });
    }
    // Arrange check: every call of an erase was made to fail once (the last round failed none).
    expect(failAt).toBeGreaterThan(2);
  });

  it('a host the URL template computes from the event is not kept in clear: after the erasure neither the api nor the table shows it', async () => {
    // Any *.receiver.test name resolves to the loopback receiver (no DNS involved).
    const tenants = createDeliveryHarness(standIns(), {
      sender: { lookup: async () => [{ address: '127.0.0.1', family: 4 }] },
    });
    try {
      const def = definition({
        url: `http://{{ data.tenant }}.receiver.test:${receiver.port}/hook`,
        body: '{"tenant": {{ data.tenant | json }}}',
      });
      await tenants.webhooks.put(def);
      const evt = { ...event({ tenant: 'tessa-holdings' }), subject: 'client-T' };
      const id = notificationIdFor(def.id, evt.id);
      receiver.requests.length = 0;
      await tenants.service.handleJob({
        kind: 'deliver',
        notificationId: id,
        webhookId: def.id,
        event: evt,
        webhookVersion: def.version,
      });
      // Arrange check: it went out to the host made from the event.
      expect(receiver.requests[0]?.headers.host).toBe(
        `tessa-holdings.receiver.test:${receiver.port}`,
      );

      const api = client(apiHandlerFor(standIns()).handler);
      expect((await api.post('/subjects/client-T/erase', undefined)).status).toBe(202);
      const got = await api.get(`/notifications/${id}`);

      expect(got.body.request).toEqual({ erased: true, method: 'POST', host: '' });
      expect(got.rawBody).not.toContain('tessa');
      expect(JSON.stringify(await rawPayload(id))).not.toContain('tessa');
    } finally {
      await tenants.close();
    }
  });

  it('takes no input: an erase with a body other than {} is a 400 and erases nothing', async () => {
    const api = client(apiHandlerFor(standIns()).handler);

    const refused = await api.post('/subjects/client-body/erase', { subject: 'someone-else' });
    const listed = await api.post('/subjects/client-body/erase', ['client-body']);
    const empty = await api.post('/subjects/client-body/erase', {});

    expect(refused.status).toBe(400);
    expect(refused.body.error.details).toEqual([expect.objectContaining({ path: 'subject' })]);
    expect(listed.status).toBe(400);
    expect(empty.status).toBe(202);
  });

  it('refuses a subject longer than an event may carry with 400 VALIDATION_ERROR, as an event with it is', async () => {
    const api = client(apiHandlerFor(standIns()).handler);
    const ingest = client(ingestHandlerFor(standIns()).handler);
    const longest = 's'.repeat(MAX_SUBJECT_LENGTH);
    const tooLong = `${longest}x`;

    const erased = await api.post(`/subjects/${longest}/erase`, undefined);
    const refused = await api.post(`/subjects/${tooLong}/erase`, undefined);
    const farTooLong = await api.post(
      `/subjects/${encodeURIComponent('é'.repeat(2000))}/erase`,
      undefined,
    );
    const event = await ingest.post('/events', { type: 'X', subject: tooLong, data: {} });

    expect(erased.status).toBe(202);
    expect(erased.body.subject).toBe(longest);
    for (const res of [refused, farTooLong, event]) {
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
      expect(res.body.error.details).toEqual([
        { path: 'subject', message: expect.stringContaining(`${MAX_SUBJECT_LENGTH} characters`) },
      ]);
    }
    await drainQueue(standIns().clients.sqs, standIns().queueUrl, 0);
  });
  it('refuses a blank subject or one with control characters with 400 VALIDATION_ERROR, as an event with it is, and records no erasure', async () => {
    const s = standIns();
    const api = client(apiHandlerFor(s).handler);
    const ingest = client(ingestHandlerFor(s).handler);
    const subjects = ['   ', 'client\u0000123', 'client\u007f123'];
    for (const subject of subjects) {
      const erase = await api.post(`/subjects/${encodeURIComponent(subject)}/erase`, undefined);
      const event = await ingest.post('/events', { type: 'X', subject, data: {} });
      for (const res of [erase, event]) {
        expect(res.status).toBe(400);
        expect(res.body.error.code).toBe('VALIDATION_ERROR');
        expect(res.body.error.details).toEqual([expect.objectContaining({ path: 'subject' })]);
      }
    }
    const audit = await s.clients.dynamo.send(new ScanCommand({ TableName: s.tables.subjectKeys }));
    const erasedSubjects = (audit.Items ?? []).map((item) => item.subject?.S);
    for (const subject of subjects) expect(erasedSubjects).not.toContain(subject);
    await drainQueue(s.clients.sqs, s.queueUrl, 0);
  });

  it('a writer that cached a subject key takes the new one once its 60 s are up after another container erased the subject', async () => {
    const s = standIns();
    let now = Date.parse('2026-11-28T12:00:00Z');
    const store = () =>
      new DynamoSubjectKeyStore(
        s.clients.dynamo,
        s.tables.subjectKeys,
        standInCipher(s),
        () => now,
      );
    const writer = store();
    const eraser = store();
    const subject = `cached-${Date.now()}`;
    const before = await writer.keyFor(subject);
    await eraser.erase(subject, 'operator', new Date(now));
    expect(await eraser.keyById(before.keyId)).toBeUndefined();

    // Writers keep a subject's key for 60 s (README, "Keys and cost").
    now += 60_000 - 1;
    expect((await writer.keyFor(subject)).keyId).toBe(before.keyId);
    now += 1;
    const after = await writer.keyFor(subject);
    expect(after.keyId).not.toBe(before.keyId);
    expect(await eraser.keyById(after.keyId)).toEqual(after.key);
  });

  it('a writer that loses the race to make the first key of a subject seals with the key the winner stored', async () => {
    const s = standIns();
    const cipher = standInCipher(s);
    const subject = `race-${Date.now()}`;
    const winner = new DynamoSubjectKeyStore(s.clients.dynamo, s.tables.subjectKeys, cipher);
    let won: { keyId: string; key: Buffer } | undefined;
    // The loser has read that there is no key yet; the winner makes it before the loser writes.
    const racing = {
      send: async (command: Parameters<DynamoDBClient['send']>[0]) => {
        if (command instanceof TransactWriteItemsCommand && won === undefined)
          won = await winner.keyFor(subject);
        return s.clients.dynamo.send(command);
      },
    } as unknown as DynamoDBClient;
    const loser = new DynamoSubjectKeyStore(racing, s.tables.subjectKeys, cipher);

    const got = await loser.keyFor(subject);
    expect(won).toBeDefined();
    expect(got.keyId).toBe(won!.keyId);
    expect(got.key.equals(won!.key)).toBe(true);
    expect((await winner.keyById(got.keyId))!.equals(got.key)).toBe(true);
  });

  it('a request that failed to render leaves nothing of the event behind: its failureDetail quotes no data, before or after the erasure', async () => {
    const s = standIns();
    const api = client(apiHandlerFor(s).handler);
    const ingest = client(ingestHandlerFor(s).handler);
    await drainQueue(s.clients.sqs, s.queueUrl, 0);
    const created = await api.post('/webhooks', {
      name: 'breaks on text',
      events: ['CLIENT_TE'],
      url: `${receiver.url}/te`,
      body: '{"a": {{ data.x }}, "b": 1}',
    });
    expect(created.status).toBe(201);
    const secret = 'SECRET NAME Alice Smith';
    const published = await ingest.post('/events', {
      type: 'CLIENT_TE',
      subject: 'client-te',
      data: { x: secret },
    });
    expect(published.status).toBe(202);
    const jobs = await drainQueue(s.clients.sqs, s.queueUrl);
    expect(jobs).toHaveLength(1);
    for (const job of jobs) await harness.service.handleJob(job);
    const id = (jobs[0] as Extract<DeliveryJob, { kind: 'deliver' }>).notificationId;
    // ' NAM' with its space: the ids stored beside (random base32) can hold any three capitals.
    const fragments = ['SECRET', 'Alice', 'Smith', ' NAM'];

    const failed = await api.get(`/notifications/${id}`);
    expect(failed.body).toMatchObject({
      status: 'FAILED',
      failureReason: 'TEMPLATE_ERROR',
      failureDetail: expect.stringContaining('not valid JSON: unexpected character at position 6'),
      request: null,
    });
    for (const fragment of fragments) expect(failed.rawBody).not.toContain(fragment);

    expect((await api.post('/subjects/client-te/erase', undefined)).status).toBe(202);
    const after = await api.get(`/notifications/${id}`);
    expect(after.status).toBe(200);
    for (const fragment of fragments) expect(after.rawBody).not.toContain(fragment);
    const stored = await s.clients.dynamo.send(
      new ScanCommand({ TableName: s.tables.notifications }),
    );
    for (const fragment of fragments) expect(JSON.stringify(stored.Items)).not.toContain(fragment);
  });
});
