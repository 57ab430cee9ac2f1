/**
 * The Payloads layout of a request about a subject (crypto-shredding). Such an item keeps in
 * clear only what history shows after an erasure, the method and the host (only when the URL
 * template spells it out: a host made from the event is the subject's data, and is sealed
 * with the rest), and seals the rest with the subject's key:
 *
 *   { id, method, host, subjectKey: <key id>, sealed: <iv|ciphertext|tag>, sealedFormat,
 *     [dict,] expiresAt }
 *
 * `sealed` is AES-256-GCM (associated data `payload:<notification id>`) over the request's
 * bytes as payload-packing.ts lays them out: packed (the JSON array compressed) when that is
 * smaller, `sealedFormat` = the packing ('zd/json' with the dictionary `dict` names, or
 * 'br/json'; 'deflate-raw/json' in items written before), else the JSON array itself, 'json'.
 * The dictionary holds the templates' static text only, never the subject's data.
 * Compression comes first, encryption second. The item is written once and never changed:
 * erasing the subject destroys the key, not the item.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { open, seal } from '../core/crypto/aead';
import { ErasedError } from '../core/errors';
import type { RenderedRequest } from '../core/model';
import { DICTIONARY_ATTRIBUTES } from './payload-dictionary';
import {
  type PackedRequest,
  type PackingDictionary,
  packRequest,
  requestJson,
  unpackRequest,
} from './payload-packing';

/** A dictionary offered for an item: what payload-packing needs, and its name. */
export interface ItemDictionary extends PackingDictionary {
  readonly ref: string;
}

/** The `dict` attribute of an item whose request was packed with `dictionary`; else none. */
export function dictionaryRefAttribute(
  packed: PackedRequest | undefined,
  dictionary: ItemDictionary | undefined,
): Item {
  return packed?.usesDictionary && dictionary
    ? { [DICTIONARY_ATTRIBUTES.ref]: { S: dictionary.ref } }
    : {};
}

type Item = Record<string, AttributeValue>;
const FORMAT_JSON = 'json';

function aad(notificationId: string): string {
  return `payload:${notificationId}`;
}

export function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '';
  }
}

/**
 * Whether a URL template names its host literally (`https://ledger.example.com/{{ ... }}`), so
 * the host says nothing about the event; a scheme or host with Liquid in it does not.
 */
export function urlTemplateHasLiteralHost(template: string): boolean {
  return /^\s*https?:\/\/[^/?#{]*(?:[/?#]|\s*$)/i.test(template);
}

/** `clearHost`: the host kept readable after an erasure ('' for none). */
export function sealedPayloadItem(
  notificationId: string,
  request: RenderedRequest,
  expiresAtEpochSeconds: number,
  subjectKey: { readonly keyId: string; readonly key: Buffer },
  dictionary?: ItemDictionary,
  clearHost: string = hostOf(request.url),
): Item {
  const packed = packRequest(request, dictionary);
  const bytes = packed?.bytes ?? requestJson(request);
  return {
    id: { S: notificationId },
    method: { S: request.method },
    host: { S: clearHost },
    subjectKey: { S: subjectKey.keyId },
    sealed: { B: seal(subjectKey.key, bytes, aad(notificationId)) },
    sealedFormat: { S: packed?.packing ?? FORMAT_JSON },
    ...dictionaryRefAttribute(packed, dictionary),
    expiresAt: { N: String(expiresAtEpochSeconds) },
  };
}

export function isSealedPayload(item: Item): boolean {
  return item.sealed?.B !== undefined && item.subjectKey?.S !== undefined;
}

/**
 * Opens a sealed item with its subject key, fetched by `keyById`; ErasedError (method and
 * host kept) when that key no longer exists or does not open it. `dictionary`: what DEFLATE
 * was given, for an item packed with the dictionary its `dict` names.
 */
export async function openSealedPayload(
  item: Item,
  keyById: (keyId: string) => Promise<Buffer | undefined>,
  dictionary?: Buffer,
): Promise<RenderedRequest> {
  const id = item.id?.S ?? '';
  const method = item.method?.S ?? '';
  const host = item.host?.S ?? '';
  const erased = () =>
    new ErasedError(`The request of notification ${id} was erased.`, method, host);
  const keyId = item.subjectKey?.S;
  const sealed = item.sealed?.B;
  // An item without its key id or sealed bytes cannot be opened, like one whose key is gone.
  const key = keyId === undefined ? undefined : await keyById(keyId);
  if (!key || sealed === undefined) throw erased();
  let bytes: Buffer;
  try {
    bytes = open(key, Buffer.from(sealed), aad(id));
  } catch {
    throw erased();
  }
  const format = item.sealedFormat?.S;
  if (format === FORMAT_JSON) {
    const [m, url, headers, body] = JSON.parse(bytes.toString('utf8')) as [
      RenderedRequest['method'],
      string,
      Record<string, string>,
      string,
    ];
    return { method: m, url, headers, body };
  }
  return unpackRequest(format ?? '', bytes, dictionary);
}
