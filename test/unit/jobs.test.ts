import { parseDeliveryJob } from '../../lambdas/core/jobs';

const deliver = {
  kind: 'deliver',
  notificationId: 'ntf_1',
  webhookId: 'wh_1',
  event: { id: 'evt_1', type: 'LOAN', occurredAt: '2026-12-04T02:00:00.000Z', data: {} },
};

describe('parseDeliveryJob', () => {
  it('reads a deliver job, also one put back to await another copy or turned away at the cap', () => {
    expect(parseDeliveryJob(JSON.stringify(deliver))).toEqual(deliver);
    const putBack = { ...deliver, awaitedFirst: true, deferrals: 2 };
    expect(parseDeliveryJob(JSON.stringify(putBack))).toEqual(putBack);
  });

  it.each([
    ['awaitedFirst other than true', { ...deliver, awaitedFirst: 'yes' }],
    ['awaitedFirst false', { ...deliver, awaitedFirst: false }],
    ['a negative deferral count', { ...deliver, deferrals: -1 }],
    ['no event', { ...deliver, event: undefined }],
  ])('refuses %s', (_what, job) => {
    expect(() => parseDeliveryJob(JSON.stringify(job))).toThrow(/no delivery job|not/);
  });
});
