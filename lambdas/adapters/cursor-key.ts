/**
 * Where the cursor key (ports.ts CursorKeySource) comes from: an installation secret of 32
 * random bytes, kept once in the Webhooks table (item WEBHOOKS_TABLE.cursorKeyItemId) sealed
 * with the envelope cipher, as webhook secrets are (KMS data keys on AWS, the installation key
 * file locally). The first container that needs it makes it with a conditional put, so
 * containers starting at once all end up with the one stored; each container reads and opens
 * it once, when it first pages, and keeps it in memory.
 */
import { randomBytes } from 'node:crypto';
import { type DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { ConfigError } from '../config';
import type { EnvelopeCipher } from '../core/crypto/envelope';
import type { CursorKeySource } from '../ports';
import { isConditionFailure } from './dynamo-item';
import { WEBHOOKS_TABLE } from './dynamo-schema';

export const CURSOR_KEY_BYTES = 32;
/** Associated data of the sealed secret: it opens only as the cursor key of this table. */
export const CURSOR_KEY_AAD = 'installation:cursor-key';
const SEALED_ATTRIBUTE = 'sealed';

/** Resolves once and keeps the result; a failed load is retried on the next call. */
function once(load: () => Promise<Uint8Array>): CursorKeySource {
  let pending: Promise<Uint8Array> | undefined;
  return {
    key() {
      pending ??= load().catch((err: unknown) => {
        pending = undefined;
        throw err;
      });
      return pending;
    },
  };
}

/** A key held in memory (tests, benchmarks, one-process tools). */
export function fixedCursorKey(bytes: Uint8Array = randomBytes(CURSOR_KEY_BYTES)): CursorKeySource {
  if (bytes.length < 16) throw new ConfigError('a cursor key needs at least 16 bytes');
  const key = Uint8Array.from(bytes);
  return { key: async () => key };
}

/** The installation's cursor key from the Webhooks table, made there on first use. */
export function tableCursorKey(
  client: Pick<DynamoDBClient, 'send'>,
  tableName: string,
  cipher: EnvelopeCipher,
): CursorKeySource {
  return once(async () => {
    const stored = await readSealed(client, tableName);
    const sealed = stored ?? (await createSealed(client, tableName, cipher));
    return openCursorKey(sealed, cipher);
  });
}

/** Opens the stored form; refuses anything but 32 bytes. */
export async function openCursorKey(sealed: string, cipher: EnvelopeCipher): Promise<Buffer> {
  const key = Buffer.from(await cipher.open(sealed, CURSOR_KEY_AAD), 'base64');
  if (key.length !== CURSOR_KEY_BYTES) throw new Error('the stored cursor key is malformed');
  return key;
}

/** The sealed secret as stored, or undefined before the first container made it. */
export async function readSealed(
  client: Pick<DynamoDBClient, 'send'>,
  tableName: string,
): Promise<string | undefined> {
  const out = await client.send(
    new GetItemCommand({
      TableName: tableName,
      Key: { [WEBHOOKS_TABLE.partitionKey]: { S: WEBHOOKS_TABLE.cursorKeyItemId } },
      ConsistentRead: true,
    }),
  );
  return out.Item?.[SEALED_ATTRIBUTE]?.S;
}

/** Puts a fresh sealed secret unless one is there; whoever lost the race reads the winner's. */
async function createSealed(
  client: Pick<DynamoDBClient, 'send'>,
  tableName: string,
  cipher: EnvelopeCipher,
): Promise<string> {
  const sealed = await cipher.seal(
    randomBytes(CURSOR_KEY_BYTES).toString('base64'),
    CURSOR_KEY_AAD,
  );
  try {
    await client.send(
      new PutItemCommand({
        TableName: tableName,
        Item: {
          [WEBHOOKS_TABLE.partitionKey]: { S: WEBHOOKS_TABLE.cursorKeyItemId },
          [SEALED_ATTRIBUTE]: { S: sealed },
        },
        ConditionExpression: 'attribute_not_exists(#id)',
        ExpressionAttributeNames: { '#id': WEBHOOKS_TABLE.partitionKey },
      }),
    );
    return sealed;
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
    const winner = await readSealed(client, tableName);
    if (winner === undefined) throw new Error('the cursor key item vanished after a race');
    return winner;
  }
}
