/**
 * Listing definitions opens their sealed secrets several at a time (DynamoDB Local, the local
 * key provider): each distinct data key costs a KMS Decrypt on AWS the first time a container
 * meets it, and one after the other they add up at a cold start with many definitions.
 */

import { DynamoWebhookStore } from '../../lambdas/adapters/dynamo-stores';
import { LocalDataKeyProvider } from '../../lambdas/adapters/key-local';
import { EnvelopeCipher } from '../../lambdas/core/crypto/envelope';
import type { WebhookDefinition } from '../../lambdas/core/model';
import type { DataKeyProvider } from '../../lambdas/ports';
import { createTables } from '../../local/standins';
import { useStandIns } from '../support/standins';

const standIns = useStandIns();

function definition(i: number): WebhookDefinition {
  return {
    id: `wh_open_${i}`,
    name: `open ${i}`,
    events: ['*'],
    enabled: true,
    method: 'POST',
    url: 'https://example.com/',
    contentType: 'application/json',
    headers: {},
    body: '{}',
    auth: { type: 'basic', username: 'svc', password: `pw-${i}` },
    signingSecret: `whsec_${Buffer.from(`secret-${i}`.padEnd(32, '.')).toString('base64')}`,
    version: 1,
    createdAt: '2026-12-04T06:00:00.000Z',
    updatedAt: '2026-12-04T06:00:00.000Z',
  };
}

describe('listing definitions with sealed secrets', () => {
  it('opens them several at a time, at most 16, each with its own secrets', async () => {
    const names = {
      webhooks: 'open-webhooks',
      notifications: 'open-notifications',
      payloads: 'open-payloads',
      eventTypes: 'open-event-types',
    };
    const { dynamo } = standIns().clients;
    await createTables(dynamo, names);
    const local = new LocalDataKeyProvider(standIns().keyFile);
    const writer = new DynamoWebhookStore(dynamo, names.webhooks, new EnvelopeCipher(local));
    const definitions = Array.from({ length: 40 }, (_, i) => definition(i));
    for (const d of definitions) await writer.put(d);

    // Unwrapping takes a while, as a KMS Decrypt does; count how many are under way at once.
    let inFlight = 0;
    let most = 0;
    const slow: DataKeyProvider = {
      current: () => local.current(),
      unwrap: async (wrapped) => {
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 20));
        inFlight--;
        return local.unwrap(wrapped);
      },
    };
    const reader = new DynamoWebhookStore(dynamo, names.webhooks, new EnvelopeCipher(slow));
    const listed = await reader.list();

    expect([...listed].sort((a, b) => a.id.localeCompare(b.id))).toEqual(
      [...definitions].sort((a, b) => a.id.localeCompare(b.id)),
    );
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(16);
  });
});
