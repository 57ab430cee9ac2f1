import type { DeliveryObserver, HealthObserver } from '../../lambdas/ports';

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

/** A health observer that records nothing. */
export const SILENT_HEALTH_OBSERVER: HealthObserver = {
  parked: ignore,
  released: ignore,
  circuitOpened: ignore,
  circuitClosed: ignore,
  webhookDisabled: ignore,
  stepFailed: ignore,
  driverRestarted: ignore,
  heartbeat: ignore,
};
