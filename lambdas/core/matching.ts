/**
 * The one matching rule of ingestion and operational events: an enabled definition receives
 * an event when it subscribes to the type (lambdas/core/subscriptions.ts) and its conditions
 * hold (lambdas/core/conditions.ts). Conditions run last: they are the only part that reads
 * the event's data.
 */
import { conditionsMatch } from './conditions';
import { notificationIdFor } from './ids';
import type { DeliveryJob, EventEnvelope, WebhookDefinition } from './model';
import { subscribed } from './subscriptions';

export function receives(def: WebhookDefinition, event: EventEnvelope): boolean {
  return subscribed(def, event) && conditionsMatch(def.conditions, event);
}

/**
 * One deliver job per definition that receives the event. Each carries the definition's
 * version, so the delivery side renders with that version or a newer one, never an older
 * cached copy.
 */
export function jobsForEvent(
  definitions: readonly WebhookDefinition[],
  event: EventEnvelope,
): Extract<DeliveryJob, { kind: 'deliver' }>[] {
  const jobs: Extract<DeliveryJob, { kind: 'deliver' }>[] = [];
  for (const def of definitions) {
    if (!receives(def, event)) continue;
    jobs.push({
      kind: 'deliver',
      notificationId: notificationIdFor(def.id, event.id),
      webhookId: def.id,
      webhookVersion: def.version,
      event,
    });
  }
  return jobs;
}
