/**
 * Compression dictionaries for stored requests. Every request of a webhook is its templates'
 * static text with the values filled in: the JSON keys, the markup, the indentation and the
 * URL are the same from one request to the next. A request compressed on its own pays for
 * that text again each time; compressed with a dictionary that holds it, it pays only for its
 * values (the reference request, 1,319 bytes as JSON: 621 with Brotli alone, 496 with its
 * dictionary; the dictionary, 590 bytes, is stored once per webhook and 30 days).
 *
 * The dictionary of a definition is its templates with the Liquid tags taken out, laid out and
 * escaped as payload-packing.ts lays out a request, so the static text of the JSON body appears
 * in it exactly as in the packed request (quotes and line breaks escaped). It holds no event
 * data, so nothing about a subject (an erasure leaves it as it is), and nothing the stored
 * requests do not already show (Basic Auth and signatures are added at send time, never
 * stored).
 *
 * A dictionary is stored as an item of the Payloads table, written once like every other item
 * there, before the first request that refers to it:
 *
 *   { id: "#dict:<hash>.<bucket>", dictionary: <bytes>, expiresAt }
 *
 * `<hash>` names the bytes; `<bucket>` is the 30-day period in which the requests that refer
 * to it expire, and the dictionary expires at the end of that period, so it outlives each of
 * them. A new period means a new item (no update: the table's IAM grants PutItem and GetItem
 * only). A request refers to `<hash>.<bucket>` in its `dict` attribute.
 */
import { createHash } from 'node:crypto';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { CONTENT_TYPE_HEADER } from '../core/request-rules';
import type { RequestTemplates } from '../ports';

/** Id prefix of dictionary items: request items are notification ids (`ntf_...`). */
export const DICTIONARY_ID_PREFIX = '#dict:';
/** Attributes of a dictionary item, and of a request item that refers to one. */
export const DICTIONARY_ATTRIBUTES = { bytes: 'dictionary', ref: 'dict' } as const;
/** Requests whose expiry falls in the same period share one dictionary item. */
export const DICTIONARY_BUCKET_SECONDS = 30 * 86_400;
/**
 * DEFLATE looks back 32 KiB at most; the request item's own id is appended to its dictionary
 * (the body often quotes it), so the stored part leaves room for it.
 */
const DEFLATE_WINDOW = 32 * 1024;
export const MAX_DICTIONARY_BYTES = DEFLATE_WINDOW - 256;
/**
 * Characters of the hash in a dictionary's name (72 bits). Two dictionaries with the same name
 * cannot be mixed up: a writer that finds the name taken compares the bytes, and packs without
 * a dictionary when they differ.
 */
const HASH_CHARS = 12;
/** Templates with less static text than this compress as well without a dictionary. */
const MIN_DICTIONARY_BYTES = 64;

/** Liquid output and tag markup: never in a rendered request. */
const TAG = /\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}/g;

function staticText(template: string): string {
  return template.replace(TAG, '');
}

/**
 * The dictionary of requests rendered from `templates`, or undefined when its static text is
 * too small to help. Deterministic: the same templates always give the same bytes. Beyond
 * DEFLATE's window, the end is kept (the body comes last).
 */
export function templateDictionary(templates: RequestTemplates): Buffer | undefined {
  // Definitions come from a cache: the same object for every request until it changes.
  if (built.has(templates)) return built.get(templates);
  const bytes = buildDictionary(templates);
  built.set(templates, bytes);
  return bytes;
}

const built = new WeakMap<RequestTemplates, Buffer | undefined>();

function buildDictionary(templates: RequestTemplates): Buffer | undefined {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(templates.headers ?? {}))
    headers[name] = staticText(value);
  headers['Content-Type'] = CONTENT_TYPE_HEADER[templates.contentType] ?? '';
  const text = JSON.stringify([
    templates.method,
    staticText(templates.url),
    headers,
    staticText(templates.body),
  ]);
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length < MIN_DICTIONARY_BYTES) return undefined;
  return bytes.length > MAX_DICTIONARY_BYTES
    ? bytes.subarray(bytes.length - MAX_DICTIONARY_BYTES)
    : bytes;
}

export interface DictionaryRef {
  /** What a request item stores in its `dict` attribute. */
  readonly ref: string;
  /** Id of the dictionary item. */
  readonly itemId: string;
  /** TTL of the dictionary item: the end of the period its requests expire in. */
  readonly expiresAt: number;
}

/** The dictionary item that a request expiring at `requestExpiresAt` refers to. */
export function dictionaryRef(bytes: Uint8Array, requestExpiresAt: number): DictionaryRef {
  let hash = hashes.get(bytes);
  if (hash === undefined) {
    hash = createHash('sha256').update(bytes).digest('base64url').slice(0, HASH_CHARS);
    hashes.set(bytes, hash);
  }
  const bucket = Math.floor(requestExpiresAt / DICTIONARY_BUCKET_SECONDS);
  const ref = `${hash}.${bucket}`;
  return {
    ref,
    itemId: dictionaryItemId(ref),
    expiresAt: (bucket + 1) * DICTIONARY_BUCKET_SECONDS,
  };
}

const hashes = new WeakMap<Uint8Array, string>();

export function dictionaryItemId(ref: string): string {
  return `${DICTIONARY_ID_PREFIX}${ref}`;
}

/** The dictionary a request item is packed with: the stored dictionary, then the item's id. */
export function deflateDictionary(stored: Uint8Array, itemId: string): Buffer {
  return Buffer.concat([stored, Buffer.from(itemId, 'utf8')]);
}

type Item = Record<string, AttributeValue>;

export function isDictionaryItem(item: Item): boolean {
  return item.id?.S?.startsWith(DICTIONARY_ID_PREFIX) === true;
}

/**
 * What DEFLATE needs to unpack a request item read directly from the table (a scan), given
 * the dictionary items by id; undefined for an item packed without one.
 */
export function dictionaryOfItem(
  item: Item,
  dictionaryItems: ReadonlyMap<string, Item>,
): Buffer | undefined {
  const ref = item[DICTIONARY_ATTRIBUTES.ref]?.S;
  if (ref === undefined) return undefined;
  const stored = dictionaryItems.get(dictionaryItemId(ref))?.[DICTIONARY_ATTRIBUTES.bytes]?.B;
  if (stored === undefined) throw new Error(`dictionary ${ref} is not among the items given`);
  return deflateDictionary(stored, item.id?.S ?? '');
}

/** The dictionary items of a scan, by id. */
export function dictionaryItemsOf(items: readonly Item[]): Map<string, Item> {
  return new Map(items.filter(isDictionaryItem).map((i) => [i.id?.S ?? '', i] as const));
}
