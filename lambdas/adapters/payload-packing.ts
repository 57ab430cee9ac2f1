/**
 * How a rendered request is laid out in a Payloads item. Two layouts, told apart by the
 * `packing` attribute:
 *  - plain (no `packing`): `method`, `url`, `headers` (map), `body` (string), as items were
 *    first written;
 *  - packed (`packing` = PACKING_DEFLATE_JSON): `request` (binary) = raw DEFLATE of the UTF-8
 *    JSON array `[method, url, headers, body]`.
 * A request is packed when that makes the item smaller (from PACK_THRESHOLD_BYTES of JSON on):
 * an item is billed per started KB written and per byte stored, and a 1 KiB JSON body shrinks
 * to about half. JSON keeps every string exactly (lone surrogates included, as escapes) and the
 * headers in their rendered order, so the request reads back byte for byte as rendered.
 * Anything that transforms the stored bytes further (encryption) applies to the packed bytes:
 * compress first, encrypt second, never the other way round.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { RenderedRequest } from '../core/model';

/** Value of the `packing` attribute of a packed item. */
export const PACKING_DEFLATE_JSON = 'deflate-raw/json';
/** Requests whose JSON is shorter stay plain: compression would not save a byte worth having. */
export const PACK_THRESHOLD_BYTES = 200;
/** Attribute names of the packed layout (the item-size rules count them, so they stay short). */
export const PACKED_ATTRIBUTES = { packing: 'packing', request: 'request' } as const;

/** The request as the JSON array the packed layout compresses. */
export function requestJson(request: RenderedRequest): Buffer {
  return Buffer.from(
    JSON.stringify([request.method, request.url, request.headers, request.body]),
    'utf8',
  );
}

/** The packed bytes, or undefined when the request is better stored plain. */
export function packRequest(request: RenderedRequest): Buffer | undefined {
  const json = requestJson(request);
  if (json.length < PACK_THRESHOLD_BYTES) return undefined;
  const packed = deflateRawSync(json);
  // The plain layout costs about the JSON's size (attribute names instead of brackets and quotes).
  return packed.length + PACKING_DEFLATE_JSON.length + 16 < json.length ? packed : undefined;
}

export function unpackRequest(packing: string, bytes: Uint8Array): RenderedRequest {
  if (packing !== PACKING_DEFLATE_JSON)
    throw new Error(`stored request has an unknown packing ${JSON.stringify(packing)}`);
  const parsed: unknown = JSON.parse(inflateRawSync(bytes).toString('utf8'));
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 4 ||
    typeof parsed[0] !== 'string' ||
    typeof parsed[1] !== 'string' ||
    typeof parsed[2] !== 'object' ||
    parsed[2] === null ||
    typeof parsed[3] !== 'string'
  ) {
    throw new Error('stored request is not a packed request');
  }
  return {
    method: parsed[0] as RenderedRequest['method'],
    url: parsed[1],
    headers: parsed[2] as Record<string, string>,
    body: parsed[3],
  };
}
