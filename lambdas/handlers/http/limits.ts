/**
 * Request body limits, checked on the raw body before JSON.parse.
 *
 * POST /events: 3,000,000 bytes for the whole body (a batch of at most 100 events, each at
 * most 256 KiB of JSON, checked after parsing; a single event's 256 KiB apply to the raw
 * body). Lambda refuses synchronous invocations whose event is above 6 MB (6,291,456 bytes),
 * and the event carries the body as a JSON string, in which every `"` and `\` is escaped: a
 * valid body can double. Twice 3,000,000 plus the event's envelope stays under it (a base64
 * body grows by a third only), so every body this route accepts reaches the handler, and
 * every 413 below that is ours.
 * Every other route: 256 KiB (a definition's templates render to at most 256 KiB anyway).
 */
export const MAX_EVENTS_BODY_BYTES = 3_000_000;
/** Lambda's limit on a synchronous invocation's event (bytes). */
export const LAMBDA_INVOCATION_LIMIT_BYTES = 6_291_456;
export const MAX_API_BODY_BYTES = 256 * 1024;
