/** Rendered requests in DynamoDB (the Payloads table): PutItem once, GetItem, nothing else. */
import { type DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { RenderedRequest } from '../core/model';
import type { PayloadStore, RequestTemplates, SubjectKeyStore } from '../ports';
import { fromItem, type Item, putIfAbsent, toItem } from './dynamo-item';
import {
  DICTIONARY_ATTRIBUTES,
  DICTIONARY_ID_PREFIX,
  type DictionaryRef,
  deflateDictionary,
  dictionaryItemId,
  dictionaryRef,
  templateDictionary,
} from './payload-dictionary';
import { PACKED_ATTRIBUTES, packRequest, unpackRequest } from './payload-packing';
import {
  dictionaryRefAttribute,
  hostOf,
  type ItemDictionary,
  isSealedPayload,
  openSealedPayload,
  sealedPayloadItem,
  urlTemplateHasLiteralHost,
} from './payload-sealing';
import { PromiseCache } from './promise-cache';

/** The Payloads item of a request: packed when that makes it smaller (payload-packing.ts). */
export function payloadItem(
  notificationId: string,
  request: RenderedRequest,
  expiresAtEpochSeconds: number,
  dictionary?: ItemDictionary,
): Item {
  const packed = packRequest(request, dictionary);
  if (packed !== undefined) {
    return {
      id: { S: notificationId },
      [PACKED_ATTRIBUTES.packing]: { S: packed.packing },
      [PACKED_ATTRIBUTES.request]: { B: packed.bytes },
      ...dictionaryRefAttribute(packed, dictionary),
      expiresAt: { N: String(expiresAtEpochSeconds) },
    };
  }
  return toItem({
    id: notificationId,
    method: request.method,
    url: request.url,
    headers: { ...request.headers },
    body: request.body,
    expiresAt: expiresAtEpochSeconds,
  });
}

/** Dictionaries a warm environment remembers (each a few KiB at most). */
const DICTIONARY_CACHE_ENTRIES = 256;

/**
 * PutItem (attribute_not_exists) and GetItem only: the table's IAM grants nothing else.
 * Requests about a subject are sealed with the subject's key (payload-sealing.ts); without a
 * subject key store, such requests cannot be written or read. Given the templates a request
 * was rendered from, the store packs it with their dictionary when that is smaller
 * (payload-dictionary.ts), writing the dictionary first, once.
 */
export class DynamoPayloadStore implements PayloadStore {
  /** Dictionary items known to be stored with the expected bytes (true) or taken by others (false). */
  private readonly written = new PromiseCache<boolean>(DICTIONARY_CACHE_ENTRIES);
  /** Dictionary bytes by `dict` reference, as read (undefined: no such item). */
  private readonly read = new PromiseCache<Buffer | undefined>(DICTIONARY_CACHE_ENTRIES);

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly subjectKeys?: SubjectKeyStore,
  ) {}

  async putOnce(
    notificationId: string,
    request: RenderedRequest,
    expiresAtEpochSeconds: number,
    subject?: string,
    templates?: RequestTemplates,
  ): Promise<'created' | 'exists'> {
    let key: { readonly keyId: string; readonly key: Buffer } | undefined;
    if (subject !== undefined) {
      if (!this.subjectKeys) throw new Error('a request about a subject needs subject keys');
      key = await this.subjectKeys.keyFor(subject);
    }
    // A host made from the event stays sealed; so does one whose template is not known.
    const clearHost =
      templates && urlTemplateHasLiteralHost(templates.url) ? hostOf(request.url) : '';
    const itemWith = (dictionary?: ItemDictionary): Item =>
      key
        ? sealedPayloadItem(
            notificationId,
            request,
            expiresAtEpochSeconds,
            key,
            dictionary,
            clearHost,
          )
        : payloadItem(notificationId, request, expiresAtEpochSeconds, dictionary);

    let item: Item;
    const stored = templates && templateDictionary(templates);
    if (stored === undefined) item = itemWith();
    else {
      const ref = dictionaryRef(stored, expiresAtEpochSeconds);
      item = itemWith({
        ref: ref.ref,
        bytes: deflateDictionary(stored, notificationId),
        refBytes: DICTIONARY_ATTRIBUTES.ref.length + ref.ref.length,
      });
      // The dictionary is stored before the first request that needs it; a name taken by
      // other bytes (a hash collision) means packing without it.
      if (item[DICTIONARY_ATTRIBUTES.ref] && !(await this.storeDictionary(ref, stored)))
        item = itemWith();
    }
    return (await putIfAbsent(this.client, this.tableName, item)) ? 'created' : 'exists';
  }

  async get(notificationId: string): Promise<RenderedRequest | undefined> {
    if (notificationId.startsWith(DICTIONARY_ID_PREFIX)) return undefined;
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { id: { S: notificationId } },
        ConsistentRead: true,
      }),
    );
    if (!out.Item) return undefined;
    const ref = out.Item[DICTIONARY_ATTRIBUTES.ref]?.S;
    let dictionary: Buffer | undefined;
    if (ref !== undefined) {
      const stored = await this.dictionary(ref);
      if (stored === undefined) {
        // Past its expiry, a request may outlast its dictionary by the time TTL takes both.
        const expiresAt = Number(out.Item.expiresAt?.N ?? Number.POSITIVE_INFINITY);
        if (expiresAt * 1000 <= Date.now()) return undefined;
        throw new Error(
          `the stored request of ${notificationId} refers to dictionary ${ref}, which is missing`,
        );
      }
      dictionary = deflateDictionary(stored, notificationId);
    }
    if (isSealedPayload(out.Item)) {
      const keys = this.subjectKeys;
      if (!keys) throw new Error('a request about a subject needs subject keys');
      return openSealedPayload(out.Item, (keyId) => keys.keyById(keyId), dictionary);
    }
    const packing = out.Item[PACKED_ATTRIBUTES.packing]?.S;
    if (packing !== undefined)
      return unpackRequest(
        packing,
        out.Item[PACKED_ATTRIBUTES.request]?.B ?? new Uint8Array(),
        dictionary,
      );
    const raw = fromItem(out.Item);
    return {
      method: raw.method as RenderedRequest['method'],
      url: raw.url as string,
      headers: (raw.headers ?? {}) as Record<string, string>,
      body: raw.body as string,
    };
  }

  /**
   * Writes the dictionary item unless it is there; true when the item holds these bytes. It is
   * read first: another environment has usually written it, and a read costs a fifth of the
   * write that a failed condition would bill.
   */
  private storeDictionary(ref: DictionaryRef, bytes: Buffer): Promise<boolean> {
    return this.written.get(ref.itemId, async () => {
      const found = await this.readDictionary(ref.itemId);
      if (found !== undefined) return found.equals(bytes);
      const created = await putIfAbsent(this.client, this.tableName, {
        id: { S: ref.itemId },
        [DICTIONARY_ATTRIBUTES.bytes]: { B: bytes },
        expiresAt: { N: String(ref.expiresAt) },
      });
      if (created) return true;
      return (await this.readDictionary(ref.itemId))?.equals(bytes) === true;
    });
  }

  /** The stored bytes of a dictionary; a missing one is not remembered. */
  private async dictionary(ref: string): Promise<Buffer | undefined> {
    const itemId = dictionaryItemId(ref);
    const bytes = await this.read.get(ref, () => this.readDictionary(itemId));
    if (bytes === undefined) this.read.forget(ref);
    return bytes;
  }

  private async readDictionary(itemId: string): Promise<Buffer | undefined> {
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { id: { S: itemId } },
        ConsistentRead: true,
      }),
    );
    const bytes = out.Item?.[DICTIONARY_ATTRIBUTES.bytes]?.B;
    return bytes === undefined ? undefined : Buffer.from(bytes);
  }
}
