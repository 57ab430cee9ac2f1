/**
 * Subject keys in their own table (SUBJECT_KEYS_TABLE), apart from the data they protect:
 *
 *   s#<sha256(subject)>          { generation }   the subject's key generation (after an erasure)
 *   k#<sha256(subject)>#<gen>    { wrapped }      the key, sealed by the envelope (data key from KMS)
 *   a#<time>#<random>            { subject, erasedBy, erasedAt }   one audit entry per erasure
 *
 * A key is 32 random bytes, made on a subject's first request and wrapped with the envelope
 * cipher, whose data keys are cached per container: sealing a request costs no KMS call, and a
 * subject's key is itself cached for KEY_CACHE_MS, so the hot path usually costs no read.
 * Erasing moves the subject to the next generation (a key of the old generation can no longer
 * be created) and deletes the key item in the same transaction: requests sealed with it cannot
 * be opened again. Readers never cache a key, so an erasure applies to the history at once.
 * Writers may hold a key for up to KEY_CACHE_MS after its erasure; what they seal then is
 * unreadable too.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import {
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import type { EnvelopeCipher } from '../core/crypto/envelope';
import type { ErasureRecord, SubjectKeyStore } from '../ports';

export const KEY_CACHE_MS = 60_000;
const MAX_CACHED = 10_000;
const CREATE_RACE_RETRIES = 3;

function subjectHash(subject: string): string {
  return createHash('sha256').update(subject, 'utf8').digest('hex');
}

export class DynamoSubjectKeyStore implements SubjectKeyStore {
  private readonly cache = new Map<string, { keyId: string; key: Buffer; until: number }>();

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly cipher: EnvelopeCipher,
    private readonly now: () => number = Date.now,
  ) {}

  async keyFor(subject: string): Promise<{ keyId: string; key: Buffer }> {
    const hash = subjectHash(subject);
    const hit = this.cache.get(hash);
    if (hit && hit.until > this.now()) return hit;
    for (let race = 0; race <= CREATE_RACE_RETRIES; race++) {
      const generation = await this.generation(hash);
      const keyId = `k#${hash}#${generation}`;
      const existing = await this.keyById(keyId);
      const key = existing ?? (await this.create(keyId, hash, generation));
      if (key) {
        if (this.cache.size >= MAX_CACHED) this.cache.clear();
        const entry = { keyId, key, until: this.now() + KEY_CACHE_MS };
        this.cache.set(hash, entry);
        return entry;
      }
    }
    throw new Error('subject key: lost the race to create it too often');
  }

  async keyById(keyId: string): Promise<Buffer | undefined> {
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { id: { S: keyId } },
        ConsistentRead: true,
      }),
    );
    const wrapped = out.Item?.wrapped?.S;
    if (wrapped === undefined) return undefined;
    return Buffer.from(await this.cipher.open(wrapped, keyId), 'base64');
  }

  async erase(subject: string, erasedBy: string, at: Date): Promise<ErasureRecord> {
    const hash = subjectHash(subject);
    this.cache.delete(hash);
    // The move to the next generation and the deletion of the current key in one write: an
    // erase that fails partway and is retried cannot leave a key behind (the retry would move
    // on from the new generation and delete only that one's key).
    for (let race = 0; ; race++) {
      const generation = await this.generation(hash);
      try {
        await this.client.send(
          new TransactWriteItemsCommand({
            TransactItems: [
              {
                Update: {
                  TableName: this.tableName,
                  Key: { id: { S: `s#${hash}` } },
                  UpdateExpression: 'SET generation = :next',
                  ConditionExpression: 'attribute_not_exists(id) OR generation = :current',
                  ExpressionAttributeValues: {
                    ':next': { N: String(generation + 1) },
                    ':current': { N: String(generation) },
                  },
                },
              },
              {
                Delete: {
                  TableName: this.tableName,
                  Key: { id: { S: `k#${hash}#${generation}` } },
                },
              },
            ],
          }),
        );
        break;
      } catch (err) {
        // Another erase moved the generation, or a key was being created: read it again.
        if ((err as { name?: string }).name !== 'TransactionCanceledException' || race > 5)
          throw err;
      }
    }
    const erasedAt = at.toISOString();
    const auditId = `a#${erasedAt}#${randomUUID()}`;
    await this.client.send(
      new PutItemCommand({
        TableName: this.tableName,
        Item: {
          id: { S: auditId },
          action: { S: 'erase' },
          subject: { S: subject },
          erasedBy: { S: erasedBy },
          erasedAt: { S: erasedAt },
        },
        ConditionExpression: 'attribute_not_exists(id)',
      }),
    );
    return { subject, erasedAt, erasedBy, auditId };
  }

  private async generation(hash: string): Promise<number> {
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { id: { S: `s#${hash}` } },
        ConsistentRead: true,
      }),
    );
    const value = out.Item?.generation?.N;
    return value === undefined ? 0 : Number(value);
  }

  /** A new key, written only while the subject is still at `generation`; undefined if it moved on. */
  private async create(
    keyId: string,
    hash: string,
    generation: number,
  ): Promise<Buffer | undefined> {
    const key = randomBytes(32);
    const wrapped = await this.cipher.seal(key.toString('base64'), keyId);
    try {
      await this.client.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              ConditionCheck: {
                TableName: this.tableName,
                Key: { id: { S: `s#${hash}` } },
                ConditionExpression: 'attribute_not_exists(id) OR generation = :generation',
                ExpressionAttributeValues: { ':generation': { N: String(generation) } },
              },
            },
            {
              Put: {
                TableName: this.tableName,
                Item: {
                  id: { S: keyId },
                  wrapped: { S: wrapped },
                  createdAt: { S: new Date(this.now()).toISOString() },
                },
                ConditionExpression: 'attribute_not_exists(id)',
              },
            },
          ],
        }),
      );
      return key;
    } catch (err) {
      // Another writer made it first (read it next round) or an erasure moved the generation.
      if ((err as { name?: string }).name === 'TransactionCanceledException') return undefined;
      throw err;
    }
  }
}
