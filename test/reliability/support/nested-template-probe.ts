/**
 * Run as a child process by fuzz.rel.ts: saves deeply nested templates through the real api
 * handler (in-memory stores), from several stack depths, and prints one JSON line per case.
 * A stack overflow that lands inside V8's regexp compiler aborts the whole process instead of
 * throwing, so this runs apart from the test runner: a crash shows as this process dying.
 */

import { Renderer } from '../../../lambdas/core/render';
import { createApiHandler } from '../../../lambdas/handlers/api';
import { invoke } from '../../support/apigw';
import {
  MemoryDeliveryQueue,
  MemoryEventTypeStore,
  MemoryHealthStore,
  MemoryNotificationStore,
  MemoryPayloadStore,
  MemoryResendJobStore,
  MemorySubjectKeyStore,
  MemoryWebhookStore,
} from '../../support/memory-stores';

const api = createApiHandler({
  stores: {
    webhooks: new MemoryWebhookStore(),
    notifications: new MemoryNotificationStore(),
    payloads: new MemoryPayloadStore(),
    resendJobs: new MemoryResendJobStore(),
    eventTypes: new MemoryEventTypeStore(),
    subjectKeys: new MemorySubjectKeyStore(),
    health: new MemoryHealthStore(),
  },
  queue: new MemoryDeliveryQueue(),
  renderer: new Renderer(),
  clock: { now: () => new Date() },
  config: { region: 'local', senderIps: [] },
  logger: { info: () => undefined, error: () => undefined },
});

/** Calls fn from `frames` nested calls deep, so the template parser starts at different stack heights. */
function atDepth<T>(frames: number, fn: () => T): T {
  return frames <= 0 ? fn() : atDepth(frames - 1, fn);
}

async function main(): Promise<void> {
  const nests: [string, (n: number) => string][] = [
    ['if', (n) => `${'{% if true %}'.repeat(n)}1${'{% endif %}'.repeat(n)}`],
    ['for', (n) => `${'{% for i in (1..1) %}'.repeat(n)}1${'{% endfor %}'.repeat(n)}`],
    ['capture', (n) => `${'{% capture c %}'.repeat(n)}1${'{% endcapture %}'.repeat(n)}{{ c }}`],
    ['output', (n) => `{{ ${'('.repeat(n)}1${')'.repeat(n)} }}`],
  ];
  for (const [kind, make] of nests) {
    for (const levels of [500, 2000, 8000]) {
      for (const frames of [0, 1000, 3000, 6000]) {
        const template = make(levels);
        const res = await atDepth(frames, () =>
          invoke(api, {
            method: 'POST',
            path: '/webhooks',
            body: { name: 'nested', events: ['*'], url: 'https://x.example/a', body: template },
          }),
        );
        process.stdout.write(
          `${JSON.stringify({ kind, levels, frames, status: res.status, code: res.body?.error?.code ?? null })}\n`,
        );
      }
    }
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`probe failed: ${(err as Error).stack}\n`);
    process.exit(2);
  },
);
