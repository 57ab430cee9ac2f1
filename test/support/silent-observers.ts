import type { DeliveryObserver } from '../../lambdas/ports';

const ignore = () => undefined;

/** A delivery observer that records nothing (tests and benchmarks that do not look at it). */
export const SILENT_DELIVERY_OBSERVER: DeliveryObserver = {
  sent: ignore,
  failed: ignore,
  retryScheduled: ignore,
  attemptFailed: ignore,
  duplicate: ignore,
  deferred: ignore,
  warn: ignore,
};
