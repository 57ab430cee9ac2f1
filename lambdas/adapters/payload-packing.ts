/**
 * How a rendered request is laid out in a Payloads item. Told apart by the `packing`
 * attribute:
 *  - plain (no `packing`): `method`, `url`, `headers` (map), `body` (string), as items were
 *    first written;
 *  - packed: `request` (binary) = the UTF-8 JSON array `[method, url, headers, body]`,
 *    compressed. `packing` names the compression: PACKING_BROTLI_JSON (Brotli, what is
 *    written now) or PACKING_DEFLATE_JSON (raw DEFLATE, items written before; still read).
 * A request is packed when that makes the item smaller (from PACK_THRESHOLD_BYTES of JSON on):
 * an item is billed per started KB written and per byte stored, and a 1 KiB JSON body shrinks
 * to about half. Brotli at quality 6 in text mode: on the reference request 5 % smaller than
 * DEFLATE at about the same CPU, on a 70 KB body 30 % smaller; the top qualities (9-11) save a
 * few bytes more for 50-100 times the CPU. JSON keeps every string exactly (lone surrogates
 * included, as escapes) and the headers in their rendered order, so the request reads back
 * byte for byte as rendered. Anything that transforms the stored bytes further (encryption)
 * applies to the packed bytes: compress first, encrypt second, never the other way round.
 */
import { brotliCompressSync, brotliDecompressSync, constants, inflateRawSync } from 'node:zlib';
import type { RenderedRequest } from '../core/model';

/** Value of the `packing` attribute of a packed item: Brotli (written now)... */
export const PACKING_BROTLI_JSON = 'br/json';
/** ...or raw DEFLATE (items written before Brotli; read, never written). */
export const PACKING_DEFLATE_JSON = 'deflate-raw/json';

const BROTLI_QUALITY = 6;
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

export interface PackedRequest {
  /** Value of the `packing` attribute. */
  readonly packing: string;
  readonly bytes: Buffer;
}

/** The packed request, or undefined when the request is better stored plain. */
export function packRequest(request: RenderedRequest): PackedRequest | undefined {
  const json = requestJson(request);
  if (json.length < PACK_THRESHOLD_BYTES) return undefined;
  const bytes = brotliCompressSync(json, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
      [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
      [constants.BROTLI_PARAM_SIZE_HINT]: json.length,
    },
  });
  // The plain layout costs about the JSON's size (attribute names instead of brackets and quotes).
  return bytes.length + PACKING_BROTLI_JSON.length + 16 < json.length
    ? { packing: PACKING_BROTLI_JSON, bytes }
    : undefined;
}

function decompress(packing: string, bytes: Uint8Array): Buffer {
  if (packing === PACKING_BROTLI_JSON) return brotliDecompressSync(bytes);
  if (packing === PACKING_DEFLATE_JSON) return inflateRawSync(bytes);
  throw new Error(`stored request has an unknown packing ${JSON.stringify(packing)}`);
}

export function unpackRequest(packing: string, bytes: Uint8Array): RenderedRequest {
  const parsed: unknown = JSON.parse(decompress(packing, bytes).toString('utf8'));
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
