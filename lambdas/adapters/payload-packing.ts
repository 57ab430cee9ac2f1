/**
 * How a rendered request is laid out in a Payloads item. Told apart by the `packing`
 * attribute:
 *  - plain (no `packing`): `method`, `url`, `headers` (map), `body` (string), as items were
 *    first written;
 *  - packed: `request` (binary) = the UTF-8 JSON array `[method, url, headers, body]`,
 *    compressed. `packing` names the compression: PACKING_DICTIONARY_JSON (a zlib stream,
 *    DEFLATE with the dictionary of the webhook's templates, payload-dictionary.ts, whose
 *    checksums make a wrong dictionary or damaged bytes fail instead of reading back as
 *    another request), PACKING_BROTLI_JSON
 *    (Brotli), whichever is smaller, or PACKING_DEFLATE_JSON (raw DEFLATE, items written
 *    before; still read).
 * A request is packed when that makes the item smaller (from PACK_THRESHOLD_BYTES of JSON on):
 * an item is billed per started KB written and per byte stored, and a 1 KiB JSON body shrinks
 * to about half. Brotli at quality 6 in text mode: on the reference request 5 % smaller than
 * DEFLATE at about the same CPU, on a 70 KB body 30 % smaller; the top qualities (9-11) save a
 * few bytes more for 50-100 times the CPU. JSON keeps every string exactly (lone surrogates
 * included, as escapes) and the headers in their rendered order, so the request reads back
 * byte for byte as rendered. Anything that transforms the stored bytes further (encryption)
 * applies to the packed bytes: compress first, encrypt second, never the other way round.
 */
import {
  brotliCompressSync,
  brotliDecompressSync,
  constants,
  deflateSync,
  inflateRawSync,
  inflateSync,
} from 'node:zlib';
import type { RenderedRequest } from '../core/model';

/** Value of the `packing` attribute of a packed item: Brotli (written now)... */
export const PACKING_BROTLI_JSON = 'br/json';
/** ...or raw DEFLATE (items written before Brotli; read, never written)... */
export const PACKING_DEFLATE_JSON = 'deflate-raw/json';
/** ...or zlib (DEFLATE, Adler-32 checks) with a dictionary (written now when smaller than Brotli). */
export const PACKING_DICTIONARY_JSON = 'zd/json';

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
  /** Whether `bytes` need the dictionary offered to packRequest (PACKING_DICTIONARY_JSON). */
  readonly usesDictionary: boolean;
}

/** A dictionary for packRequest: what DEFLATE is given, and the bytes naming it costs the item. */
export interface PackingDictionary {
  readonly bytes: Buffer;
  readonly refBytes: number;
}

/**
 * The packed request, or undefined when the request is better stored plain. With a
 * dictionary, the smaller of Brotli alone and DEFLATE with the dictionary (counting the bytes
 * that name the dictionary in the item); the dictionary packing is checked by unpacking it
 * before it is chosen, so what is stored always reads back as the request.
 */
export function packRequest(
  request: RenderedRequest,
  dictionary?: PackingDictionary,
): PackedRequest | undefined {
  const json = requestJson(request);
  if (json.length < PACK_THRESHOLD_BYTES) return undefined;
  let best: PackedRequest = {
    packing: PACKING_BROTLI_JSON,
    bytes: brotliCompressSync(json, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
        [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
        [constants.BROTLI_PARAM_SIZE_HINT]: json.length,
      },
    }),
    usesDictionary: false,
  };
  let bestCost = best.bytes.length + best.packing.length;
  if (dictionary !== undefined) {
    const bytes = deflateSync(json, { level: 9, memLevel: 9, dictionary: dictionary.bytes });
    const cost = bytes.length + PACKING_DICTIONARY_JSON.length + dictionary.refBytes;
    if (cost < bestCost && inflateSync(bytes, { dictionary: dictionary.bytes }).equals(json)) {
      best = { packing: PACKING_DICTIONARY_JSON, bytes, usesDictionary: true };
      bestCost = cost;
    }
  }
  // The plain layout costs about the JSON's size (attribute names instead of brackets and quotes).
  return bestCost + 16 < json.length ? best : undefined;
}

function decompress(packing: string, bytes: Uint8Array, dictionary?: Buffer): Buffer {
  if (packing === PACKING_BROTLI_JSON) return brotliDecompressSync(bytes);
  if (packing === PACKING_DEFLATE_JSON) return inflateRawSync(bytes);
  if (packing === PACKING_DICTIONARY_JSON) {
    if (dictionary === undefined) throw new Error('stored request needs its dictionary');
    return inflateSync(bytes, { dictionary });
  }
  throw new Error(`stored request has an unknown packing ${JSON.stringify(packing)}`);
}

/** The request of a packed item; `dictionary` is what DEFLATE was given, for PACKING_DICTIONARY_JSON. */
export function unpackRequest(
  packing: string,
  bytes: Uint8Array,
  dictionary?: Buffer,
): RenderedRequest {
  const parsed: unknown = JSON.parse(decompress(packing, bytes, dictionary).toString('utf8'));
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
