/**
 * Restarts health drivers presumed dead. A driver beats on its record at least every few
 * minutes; one that stopped (its execution failed after the step's own retries, or a handover
 * lost a race) is replaced when a notification parks again, or on resume. A webhook whose
 * notifications wait and that gets no new traffic would wait for good, and its auto-disable
 * (the driver's job) would never come: the retry sweeper runs this on every sweep, reading
 * each webhook's health record once and making sure of the driver of those whose lease ran out.
 */
import type { Clock, HealthStore } from '../../ports';
import { forEachBounded } from '../concurrency';
import type { ParkReason } from '../model';
import type { HealthGate } from './gate';
import { driverPresumedDead, type HealthRecord, type HealthSettings } from './model';

export interface DriverWatchDeps {
  /** Every webhook whose notifications may wait (live ones and tombstones). */
  readonly webhookIds: () => Promise<readonly string[]>;
  readonly store: Pick<HealthStore, 'get'>;
  readonly gate: Pick<HealthGate, 'ensureDriver'>;
  readonly clock: Clock;
  readonly settings: Pick<HealthSettings, 'driverLeaseMs'>;
  /** What waits parked for a webhook, per reason (for the gauge); absent: not counted. */
  readonly countParked?: (webhookId: string) => Promise<Record<ParkReason, number>>;
}

export interface DriverWatchResult {
  /** Health records read. */
  readonly checked: number;
  /** Webhooks whose driver was presumed dead and made sure of. */
  readonly restarted: readonly string[];
  /**
   * Circuits not closed (OPEN or HALF_OPEN) of webhooks neither disabled nor deleted, as read
   * now: the dashboard's gauge of open circuits, exact at each sweep. Undefined when the
   * webhooks or a record could not be read (no figure rather than a false one).
   */
  readonly openCircuits?: number;
  /**
   * Notifications waiting parked, per reason, over every webhook whose record says something
   * may wait (a driver running, a circuit not closed, a pause). Undefined like openCircuits,
   * or when a count failed.
   */
  readonly waiting?: Record<ParkReason, number>;
  readonly errors: readonly { readonly webhookId: string; readonly error: unknown }[];
}

/** Records read at once. */
const WATCH_PARALLELISM = 8;

export async function watchDrivers(deps: DriverWatchDeps): Promise<DriverWatchResult> {
  const ids = await deps.webhookIds();
  const restarted: string[] = [];
  const errors: { webhookId: string; error: unknown }[] = [];
  let openCircuits = 0;
  let unread = 0;
  const waiting: Record<ParkReason, number> = { CIRCUIT_OPEN: 0, PAUSED: 0, RATE_LIMITED: 0 };
  await forEachBounded(ids, WATCH_PARALLELISM, async (webhookId) => {
    try {
      const record = await deps.store.get(webhookId).catch((error: unknown) => {
        unread++;
        throw error;
      });
      if (record && circuitCountsOpen(record)) openCircuits++;
      if (record && deps.countParked && mayHoldParked(record)) {
        const counts = await deps.countParked(webhookId).catch((error: unknown) => {
          unread++;
          throw error;
        });
        for (const reason of PARK_REASONS) waiting[reason] += counts[reason];
      }
      if (!record || !driverPresumedDead(record, deps.clock.now(), deps.settings)) return;
      // The gate starts the next driver only if the record still says so (conditional write).
      await deps.gate.ensureDriver(webhookId);
      restarted.push(webhookId);
    } catch (error) {
      errors.push({ webhookId, error });
    }
  });
  return {
    checked: ids.length,
    restarted,
    errors,
    ...(unread === 0 ? { openCircuits, ...(deps.countParked ? { waiting } : {}) } : {}),
  };
}

/** Reasons a notification waits parked (the waiting gauge's dimension). */
const PARK_REASONS = [
  'CIRCUIT_OPEN',
  'PAUSED',
  'RATE_LIMITED',
] as const satisfies readonly ParkReason[];

/**
 * Whether notifications of the webhook may wait parked: every parked notification has a driver
 * (the watch restarts dead ones), and a circuit not closed or a pause parks what arrives.
 */
function mayHoldParked(record: HealthRecord): boolean {
  return record.driverRunning || record.state !== 'CLOSED' || record.paused;
}

/** An open (or half-open) circuit of a webhook still in service. */
function circuitCountsOpen(record: HealthRecord): boolean {
  return record.state !== 'CLOSED' && record.disabledAt === null && !record.autoDisabled;
}
