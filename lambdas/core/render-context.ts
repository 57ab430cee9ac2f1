/**
 * What templates see: { event, data, webhook, notification }. Kept apart from the renderer so
 * code that only builds contexts (the delivery engine) does not load the template engine.
 */
import { newEventId } from './ids';
import type { EventEnvelope, WebhookDefinition } from './model';

export interface RenderContext {
  event: { id: string; type: string; occurredAt: string };
  data: Record<string, unknown>;
  webhook: { id: string; name: string };
  notification: { id: string };
}

export function buildRenderContext(
  def: Pick<WebhookDefinition, 'id' | 'name'>,
  event: EventEnvelope,
  notificationId: string,
): RenderContext {
  return {
    event: { id: event.id, type: event.type, occurredAt: event.occurredAt },
    data: event.data,
    webhook: { id: def.id, name: def.name },
    notification: { id: notificationId },
  };
}

/** A plausible event for previews and save-time checks. */
export function sampleEvent(
  type = 'SAMPLE_EVENT',
  data: Record<string, unknown> = {},
): EventEnvelope {
  return { id: newEventId(), type, occurredAt: new Date().toISOString(), data };
}
