/** Rendered requests in DynamoDB (the Payloads table): PutItem once, GetItem, nothing else. */
import { type DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { RenderedRequest } from '../core/model';
import type { PayloadStore, SubjectKeyStore } from '../ports';
import { fromItem, type Item, putIfAbsent, toItem } from './dynamo-item';
import { PACKED_ATTRIBUTES, packRequest, unpackRequest } from './payload-packing';
import { isSealedPayload, openSealedPayload, sealedPayloadItem } from './payload-sealing';

/** The Payloads item of a request: packed when that makes it smaller (payload-packing.ts). */
export function payloadItem(
  notificationId: string,
  request: RenderedRequest,
  expiresAtEpochSeconds: number,
): Item {
  const packed = packRequest(request);
  if (packed !== undefined) {
    return {
      id: { S: notificationId },
      [PACKED_ATTRIBUTES.packing]: { S: packed.packing },
      [PACKED_ATTRIBUTES.request]: { B: packed.bytes },
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

/**
 * PutItem (attribute_not_exists) and GetItem only: the table's IAM grants nothing else.
 * Requests about a subject are sealed with the subject's key (payload-sealing.ts); without a
 * subject key store, such requests cannot be written or read.
 */
export class DynamoPayloadStore implements PayloadStore {
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
  ): Promise<'created' | 'exists'> {
    let item: Item;
    if (subject !== undefined) {
      if (!this.subjectKeys) throw new Error('a request about a subject needs subject keys');
      const key = await this.subjectKeys.keyFor(subject);
      item = sealedPayloadItem(notificationId, request, expiresAtEpochSeconds, key);
    } else {
      item = payloadItem(notificationId, request, expiresAtEpochSeconds);
    }
    return (await putIfAbsent(this.client, this.tableName, item)) ? 'created' : 'exists';
  }

  async get(notificationId: string): Promise<RenderedRequest | undefined> {
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { id: { S: notificationId } },
        ConsistentRead: true,
      }),
    );
    if (!out.Item) return undefined;
    if (isSealedPayload(out.Item)) {
      const keys = this.subjectKeys;
      if (!keys) throw new Error('a request about a subject needs subject keys');
      return openSealedPayload(out.Item, (keyId) => keys.keyById(keyId));
    }
    const packing = out.Item[PACKED_ATTRIBUTES.packing]?.S;
    if (packing !== undefined)
      return unpackRequest(packing, out.Item[PACKED_ATTRIBUTES.request]?.B ?? new Uint8Array());
    const raw = fromItem(out.Item);
    return {
      method: raw.method as RenderedRequest['method'],
      url: raw.url as string,
      headers: (raw.headers ?? {}) as Record<string, string>,
      body: raw.body as string,
    };
  }
}
