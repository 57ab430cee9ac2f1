import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import {
  createDeliveryObservability,
  createDeliveryObserver,
  withLambdaContext,
} from '../../lambdas/adapters/observability';
import type { Attempt } from '../../lambdas/core/model';

const attempt: Attempt = {
  number: 1,
  trigger: 'initial',
  startedAt: '2026-11-28T10:00:00.000Z',
  durationMs: 12,
  statusCode: 200,
  outcome: 'SENT',
  error: null,
  responseBody: null,
};
const ref = { notificationId: 'ntf_1', webhookId: 'wh_1' };

/** The log lines (messages) written to stdout and stderr while `fn` runs. */
function messagesOf(fn: () => void): string[] {
  const lines: string[] = [];
  const streams = [process.stdout, process.stderr] as const;
  const writes = streams.map((s) => s.write);
  for (const stream of streams) {
    stream.write = ((chunk: string | Uint8Array) => {
      for (const line of String(chunk).split('\n').filter(Boolean)) {
        const parsed = JSON.parse(line) as { message?: string };
        if (parsed.message) lines.push(parsed.message);
      }
      return true;
    }) as typeof stream.write;
  }
  try {
    fn();
  } finally {
    streams.forEach((s, i) => {
      s.write = writes[i]!;
    });
  }
  return lines;
}

function observerSampled(rate: number) {
  const logger = new Logger({ serviceName: 'webhooks', sampleRateValue: rate });
  const metrics = new Metrics({ namespace: 'Webhooks', serviceName: 'webhooks' });
  return { observer: createDeliveryObserver(logger, metrics), metrics };
}

describe('delivery logs at scale', () => {
  it('an invocation that is not sampled logs no success but still counts it and logs failures', () => {
    const { observer, metrics } = observerSampled(0);
    const messages = messagesOf(() => {
      observer.sent(ref, attempt, 40);
      observer.failed(ref, 'TIMEOUT', { ...attempt, outcome: 'FAILED', error: 'TIMEOUT' });
    });
    expect(messages).toEqual(['notification failed']);
    expect(metrics.hasStoredMetrics()).toBe(true);
  });

  it('a sampled invocation logs every success', () => {
    const { observer } = observerSampled(1);
    const messages = messagesOf(() => observer.sent(ref, attempt, 40));
    expect(messages).toEqual(['notification sent']);
  });

  it('every Lambda invocation gets its own sampling decision', async () => {
    const logger = new Logger({ serviceName: 'webhooks', sampleRateValue: 0.5 });
    const refresh = jest.spyOn(logger, 'refreshSampleRateCalculation');
    const handler = withLambdaContext(logger, async (n: number) => n + 1);
    const context = { functionName: 'f', awsRequestId: 'r' } as never;
    expect(await handler(1, context)).toBe(2);
    expect(await handler(2, context)).toBe(3);
    expect(refresh).toHaveBeenCalledTimes(2);
  });
});

describe('parked counts', () => {
  /** The EMF records written to stdout while `fn` runs. */
  function emfOf(fn: () => void): { Reason?: string; NotificationParked?: number }[] {
    const records: { _aws?: unknown; Reason?: string; NotificationParked?: number }[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string | Uint8Array) => {
      for (const line of String(chunk).split('\n').filter(Boolean)) records.push(JSON.parse(line));
      return true;
    }) as typeof process.stdout.write;
    try {
      fn();
    } finally {
      process.stdout.write = write;
    }
    return records.filter((r) => r._aws !== undefined);
  }

  it('go out, summed per reason, when the invocation that parked them publishes its metrics, and only once', () => {
    const logger = new Logger({ serviceName: 'webhooks', logLevel: 'SILENT' });
    const metrics = new Metrics({ namespace: 'Webhooks', serviceName: 'webhooks' });
    const o = createDeliveryObservability(logger, metrics);
    o.health.parked(ref, 'CIRCUIT_OPEN');
    o.health.parked(ref, 'CIRCUIT_OPEN');
    o.health.parked(ref, 'PAUSED');

    expect(o.metrics.hasStoredMetrics()).toBe(true);
    const first = emfOf(() => o.metrics.publishStoredMetrics());
    const second = emfOf(() => {
      if (o.metrics.hasStoredMetrics()) o.metrics.publishStoredMetrics();
    });

    expect(first.map((r) => [r.Reason, r.NotificationParked])).toEqual([
      ['CIRCUIT_OPEN', 2],
      ['PAUSED', 1],
    ]);
    expect(second).toEqual([]);
  });
});
