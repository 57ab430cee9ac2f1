/**
 * What a preview says about matching, beside the rendered request: whether the sample event
 * would fire the webhook (its type subscribed, its conditions holding; `enabled` aside, so a
 * disabled webhook can be checked before it is switched on) and which rules did not hold.
 */
import { evaluateConditions } from '../conditions';
import type { EventEnvelope, WebhookDefinition } from '../model';
import { subscribed } from '../subscriptions';

export interface FailedRule {
  readonly index: number;
  readonly field: string;
  readonly op: string;
}

export interface PreviewMatch {
  readonly matches: boolean;
  /** The event's type is one the webhook subscribes to (and it is not about this webhook). */
  readonly subscribed: boolean;
  /** The conditions' rules that did not hold for the event (empty without conditions). */
  readonly failedRules: readonly FailedRule[];
}

export function previewMatch(def: WebhookDefinition, event: EventEnvelope): PreviewMatch {
  const isSubscribed = subscribed({ ...def, enabled: true }, event);
  const evaluation = evaluateConditions(def.conditions, event);
  const rules = def.conditions?.rules ?? [];
  return {
    matches: isSubscribed && evaluation.matches,
    subscribed: isSubscribed,
    failedRules: evaluation.failedRules.flatMap((index) => {
      const rule = rules[index];
      return rule ? [{ index, field: rule.field, op: rule.op }] : [];
    }),
  };
}
