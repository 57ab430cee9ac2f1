/**
 * The retry schedule is data: this one array drives the state machine (CDK), the jitter and
 * Retry-After ceilings (attempt Lambda) and the docs. Entry n is the nominal wait before
 * automatic retry n + 1, in seconds: 60 s x 5^n.
 */
export const DEFAULT_RETRY_SCHEDULE_SECONDS: readonly number[] = [60, 300, 1500, 7500, 37500];

/** Number of automatic retries after the first attempt. */
export const RETRY_COUNT = 5;
