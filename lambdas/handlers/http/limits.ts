/**
 * Request body limits, checked on the raw body before JSON.parse.
 *
 * POST /events: 5 MiB for the whole body (a batch of at most 100 events, each at most
 * 256 KiB of JSON, checked after parsing; a single event's 256 KiB apply to the raw body). Lambda refuses synchronous invocation payloads above 6 MB
 * (the body plus the event envelope, base64 adds a third), so 5 MiB keeps the 413 ours.
 * Every other route: 256 KiB (a definition's templates render to at most 256 KiB anyway).
 */
export const MAX_EVENTS_BODY_BYTES = 5 * 1024 * 1024;
export const MAX_API_BODY_BYTES = 256 * 1024;
