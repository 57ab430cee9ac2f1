/**
 * Which definitions receive which events: the one rule ingestion and the platform's own
 * operational events share (README "Webhook definitions", "Operational events").
 *
 * - `"*"` matches every producer event type, never a `platform.*` one;
 * - `platform.*` matches every operational event type, an exact name matches that one type;
 * - an operational event about webhook W (its `data.webhookId`) is never delivered to W.
 */
import type { EventEnvelope, WebhookDefinition } from './model';

/** Types under this prefix belong to the platform: producers cannot publish them. */
export const PLATFORM_EVENT_PREFIX = 'platform.';
/** A definition's subscription to every operational event. */
export const PLATFORM_WILDCARD = 'platform.*';
/** A definition's subscription to every producer event. */
export const EVENT_WILDCARD = '*';

export const PLATFORM_EVENT_TYPES = [
  'platform.circuit.opened',
  'platform.circuit.closed',
  'platform.webhook.disabled',
  'platform.notification.failed',
] as const;
export type PlatformEventType = (typeof PLATFORM_EVENT_TYPES)[number];

export function isPlatformEventType(type: string): boolean {
  return type.startsWith(PLATFORM_EVENT_PREFIX);
}

/** Whether a list of subscriptions (a definition's `events`) takes events of this type. */
export function subscribesTo(events: readonly string[], type: string): boolean {
  if (events.includes(type)) return true;
  return isPlatformEventType(type)
    ? events.includes(PLATFORM_WILDCARD)
    : events.includes(EVENT_WILDCARD);
}

/** A definition that takes only operational events: every delivery to it is operational. */
export function onlyOperational(events: readonly string[]): boolean {
  return events.length > 0 && events.every(isPlatformEventType);
}

/** The webhook an operational event is about (`data.webhookId`), if any. */
export function aboutWebhookId(event: Pick<EventEnvelope, 'type' | 'data'>): string | undefined {
  if (!isPlatformEventType(event.type)) return undefined;
  const id = event.data.webhookId;
  return typeof id === 'string' ? id : undefined;
}

/**
 * Whether an enabled definition receives the event by its subscriptions (conditions aside):
 * subscribed to the type, and not the webhook an operational event is about.
 */
export function subscribed(
  def: Pick<WebhookDefinition, 'id' | 'enabled' | 'events'>,
  event: Pick<EventEnvelope, 'type' | 'data'>,
): boolean {
  if (!def.enabled || !subscribesTo(def.events, event.type)) return false;
  return aboutWebhookId(event) !== def.id;
}

/**
 * Why a subscription in a definition's `events` is refused, or undefined when it is fine:
 * under `platform.` only the known types and `platform.*` exist.
 */
export function subscriptionProblem(type: string): string | undefined {
  if (!isPlatformEventType(type) || type === PLATFORM_WILDCARD) return undefined;
  if ((PLATFORM_EVENT_TYPES as readonly string[]).includes(type)) return undefined;
  return `is not an operational event type; under "platform." there are ${[PLATFORM_WILDCARD, ...PLATFORM_EVENT_TYPES].join(', ')}`;
}
