/**
 * A resend job delivered again (SQS at-least-once, a Lambda that died after some of its writes)
 * makes no second attempt and counts nothing twice in its bulk resend job. DynamoDB Local,
 * fauxqs and a loopback receiver are real; the crash between two awaits is injected (the job
 * store throws once, as a Lambda timing out there would leave it).
 */
import type { DeliveryJob } from '../../lambdas/core/model';
import { drainQueue } from '../support/api-harness';
import { definition, deliverJob, event, useDeliveryHarness } from '../support/delivery-harness';
import { ok } from '../support/receivers';
import { useStandIns } from '../support/standins';

describe('resend jobs delivered more than once', () => {
  const standIns = useStandIns();
  const { harness, receiver } = useDeliveryHarness(standIns);

  beforeEach(() => {
    receiver.requests.length = 0;
    receiver.setBehaviour(ok());
  });

  async function sentNotification(path: string) {
    const def = definition({ url: `${receiver.url}${path}` });
    await harness.webhooks.put(def);
    const job = deliverJob(def, event({ loanId: path }));
    await harness.service.handleJob(job);
    expect(await harness.notifications.get(job.notificationId)).toMatchObject({ status: 'SENT' });
    return { def, id: job.notificationId };
  }

  async function bulkJob(jobId: string, count: number, queued: number) {
    await harness.resendJobs.create({
      jobId,
      count,
      queued,
      sent: 0,
      failed: 0,
      createdAt: new Date().toISOString(),
    });
  }

  const triggers = async (id: string) =>
    (await harness.notifications.get(id))!.attempts.map((a) => a.trigger);

  it('a bulk resend job repeated after it recorded its attempt (and died before counting it) sends nothing more and counts it once', async () => {
    const { def, id } = await sentNotification('/bulk-crash');
    await bulkJob('job_crash_after_record', 1, 1);
    const job: DeliveryJob = {
      kind: 'resend',
      notificationId: id,
      webhookId: def.id,
      jobId: 'job_crash_after_record',
    };
    const crash = jest
      .spyOn(harness.resendJobs, 'increment')
      .mockRejectedValueOnce(new Error('Lambda timed out'));

    await expect(harness.service.handleJob(job)).rejects.toThrow('Lambda timed out');
    crash.mockRestore();
    await harness.service.handleJob(job);
    // And once more, as if the second run died before SQS deleted the message.
    await harness.service.handleJob(job);

    expect(await triggers(id)).toEqual(['initial', 'manual']);
    expect(receiver.requests).toHaveLength(2);
    expect(await harness.resendJobs.get('job_crash_after_record')).toMatchObject({
      count: 1,
      sent: 1,
      failed: 0,
    });
  });

  it('a resend of one notification delivered twice makes one attempt; a second request for it makes another', async () => {
    const { def, id } = await sentNotification('/single-repeat');
    const first: DeliveryJob = {
      kind: 'resend',
      notificationId: id,
      webhookId: def.id,
      resendId: 'job_first_request',
    };

    await harness.service.handleJob(first);
    await harness.service.handleJob(first);
    expect(await triggers(id)).toEqual(['initial', 'manual']);

    await harness.service.handleJob({ ...first, resendId: 'job_second_request' });
    expect(await triggers(id)).toEqual(['initial', 'manual', 'manual']);
    expect(receiver.requests).toHaveLength(3);
  });

  it('a bulk resend by range expanded twice queues and counts each notification once, and sends each once', async () => {
    const from = new Date(Date.now() - 1000).toISOString();
    const def = definition({ url: `${receiver.url}/range-repeat` });
    await harness.webhooks.put(def);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const job = deliverJob(def, event({ loanId: `R-${i}` }));
      await harness.service.handleJob(job);
      ids.push(job.notificationId);
    }
    const to = new Date(Date.now() + 1000).toISOString();
    await bulkJob('job_range_repeat', 3, 0);
    const expansion: DeliveryJob = {
      kind: 'resendQuery',
      jobId: 'job_range_repeat',
      query: { from, to, webhookId: def.id, status: 'SENT' },
    };
    receiver.requests.length = 0;

    await harness.service.handleJob(expansion);
    await harness.service.handleJob(expansion);
    const queued = await drainQueue(standIns().clients.sqs, standIns().queueUrl);
    for (const job of queued) await harness.service.handleJob(job);

    expect(queued).toHaveLength(6);
    expect(receiver.requests.map((r) => r.headers['webhook-id']).sort()).toEqual([...ids].sort());
    for (const id of ids) expect(await triggers(id)).toEqual(['initial', 'manual']);
    expect(await harness.resendJobs.get('job_range_repeat')).toMatchObject({
      count: 3,
      queued: 3,
      sent: 3,
      failed: 0,
    });
  });
});
