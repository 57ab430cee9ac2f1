/**
 * Any character valid JSON carries travels from POST /events to the receiver and the history
 * unchanged: emoji (astral characters) and U+FFFE/U+FFFF, which SQS refuses raw in a message
 * body, in the event's type, id, subject and data, single and batch form. Ingest and api
 * handlers on DynamoDB Local and fauxqs, delivery to a loopback receiver.
 */
import type { DeliveryJob } from '../../lambdas/core/model';
import { apiHandlerFor, drainQueue, ingestHandlerFor } from '../support/api-harness';
import { client } from '../support/apigw';
import { useDeliveryHarness } from '../support/delivery-harness';
import { useStandIns } from '../support/standins';

const standIns = useStandIns();

describe('events with characters outside the SQS message character set', () => {
  const { harness, receiver } = useDeliveryHarness(standIns);
  const queued = () => drainQueue(standIns().clients.sqs, standIns().queueUrl);

  it('are accepted, queued, delivered byte for byte and kept so in the history', async () => {
    const api = client(apiHandlerFor(standIns()).handler);
    const ingest = client(ingestHandlerFor(standIns()).handler);
    await drainQueue(standIns().clients.sqs, standIns().queueUrl, 0);
    const created = await api.post('/webhooks', {
      name: 'unicode',
      events: ['OK', 'OK 😀', 'BATCH 🎉'],
      url: `${receiver.url}/unicode`,
      body: '{"k": {{ data.k | json }}, "raw": "{{ data.k }}", "type": {{ event.type | json }}, "id": {{ event.id | json }}}',
    });
    expect(created.status).toBe(201);
    interface Sent {
      readonly type: string;
      readonly id?: string;
      readonly subject?: string;
      readonly data: { readonly k: string } & Record<string, unknown>;
    }
    const single: Sent[] = [
      { type: 'OK', data: { k: '😀' } },
      { type: 'OK', data: { k: '\uffff' } },
      { type: 'OK', data: { k: 'a\ufffeb' } },
      { type: 'OK 😀', id: 'evt-🎉-1', subject: 'client-😀', data: { k: '👩‍💻 é €', '🔑': 1 } },
    ];
    const batch: Sent[] = [
      { type: 'BATCH 🎉', id: 'b-😀-1', subject: 's-🎉', data: { k: '\u{10ffff}\uffff😀' } },
      { type: 'OK', data: { k: 'plain' } },
    ];
    const expectedBody = (e: Sent, id: string) =>
      `{"k": ${JSON.stringify(e.data.k)}, "raw": "${e.data.k}", "type": ${JSON.stringify(e.type)}, "id": ${JSON.stringify(id)}}`;

    const sent: { eventId: string; event: Sent }[] = [];
    for (const event of single) {
      const res = await ingest.post('/events', event);
      expect(res.status).toBe(202);
      expect(res.body.notifications).toBe(1);
      sent.push({ eventId: res.body.eventId, event });
    }
    const res = await ingest.post('/events', { events: batch });
    expect(res.status).toBe(202);
    batch.forEach((event, i) => {
      sent.push({ eventId: res.body.events[i].eventId, event });
    });

    const jobs = (await queued()).filter(
      (j): j is Extract<DeliveryJob, { kind: 'deliver' }> => j.kind === 'deliver',
    );
    expect(jobs).toHaveLength(sent.length);
    for (const job of jobs) await harness.service.handleJob(job);

    for (const { eventId, event } of sent) {
      const job = jobs.find((j) => j.event.id === eventId);
      expect(job?.event).toMatchObject(event);
      const body = expectedBody(event, eventId);
      const delivered = receiver.requests.find(
        (r) => r.headers['webhook-id'] === job?.notificationId,
      );
      expect(Buffer.from(delivered?.body ?? '', 'utf8').equals(Buffer.from(body, 'utf8'))).toBe(
        true,
      );
      const history = await api.get(`/notifications/${job?.notificationId}`);
      expect(history.body).toMatchObject({ status: 'SENT', eventType: event.type, eventId });
      expect(history.body.request.body).toBe(body);
    }
  });
});
