/**
 * The pagination-cursor secret in the Webhooks table (DynamoDB Local): made once by whichever
 * container first pages, sealed like webhook secrets, the same for every container, ignored
 * by the definition store, and never stored in a readable form.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type DynamoDBClient, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import {
  CURSOR_KEY_AAD,
  openCursorKey,
  readSealed,
  tableCursorKey,
} from '../../lambdas/adapters/cursor-key';
import { WEBHOOKS_TABLE } from '../../lambdas/adapters/dynamo-schema';
import { DynamoWebhookStore } from '../../lambdas/adapters/dynamo-stores';
import { installationKeyPath } from '../../lambdas/adapters/installation-key';
import { LocalDataKeyProvider } from '../../lambdas/adapters/key-local';
import { EnvelopeCipher } from '../../lambdas/core/crypto/envelope';
import { createTables, standInCipher } from '../../local/standins';
import { useStandIns } from '../support/standins';

const standIns = useStandIns();
let counter = 0;
let otherRoot: string;
beforeAll(() => {
  otherRoot = mkdtempSync(path.join(os.tmpdir(), 'cursor-other-installation-'));
});
afterAll(() => rmSync(otherRoot, { recursive: true, force: true }));

async function freshWebhooksTable(): Promise<string> {
  counter += 1;
  const prefix = `cursor${counter}-`;
  await createTables(standIns().clients.dynamo, {
    webhooks: `${prefix}webhooks`,
    notifications: `${prefix}notifications`,
    payloads: `${prefix}payloads`,
    eventTypes: `${prefix}event-types`,
  });
  return `${prefix}webhooks`;
}

/** A client that counts the commands it passes on, by name. */
function counting(client: DynamoDBClient): { client: DynamoDBClient; calls: string[] } {
  const calls: string[] = [];
  const wrapped = {
    send: (command: { constructor: { name: string } }) => {
      calls.push(command.constructor.name);
      return client.send(command as never);
    },
  } as unknown as DynamoDBClient;
  return { client: wrapped, calls };
}

/** Each "container" has its own cipher (its own data key), as separate Lambdas do. */
const container = () => standInCipher(standIns());

describe('the cursor secret', () => {
  it('is made once by concurrent first users, who all end up with the stored one', async () => {
    const table = await freshWebhooksTable();
    const { dynamo } = standIns().clients;
    const keys = await Promise.all(
      Array.from({ length: 8 }, () => tableCursorKey(dynamo, table, container()).key()),
    );
    const stored = await openCursorKey((await readSealed(dynamo, table))!, container());
    expect(stored).toHaveLength(32);
    for (const key of keys) expect(Buffer.from(key)).toEqual(stored);
    const items = (await dynamo.send(new ScanCommand({ TableName: table }))).Items ?? [];
    expect(items.map((i) => i.id?.S)).toEqual([WEBHOOKS_TABLE.cursorKeyItemId]);
  });

  it('is kept sealed: the item holds no readable form of the key', async () => {
    const table = await freshWebhooksTable();
    const { dynamo } = standIns().clients;
    const key = Buffer.from(await tableCursorKey(dynamo, table, container()).key());
    const text = JSON.stringify((await dynamo.send(new ScanCommand({ TableName: table }))).Items);
    expect(text).toContain('enc1.local:');
    for (const form of ['base64', 'base64url', 'hex', 'latin1'] as const)
      expect(text).not.toContain(key.toString(form));
  });

  it('is read and opened once per container, and survives a restart (a new container)', async () => {
    const table = await freshWebhooksTable();
    const { client, calls } = counting(standIns().clients.dynamo);
    const source = tableCursorKey(client, table, container());
    const first = Buffer.from(await source.key());
    await Promise.all([source.key(), source.key()]);
    expect(calls).toEqual(['GetItemCommand', 'PutItemCommand']);
    const later = counting(standIns().clients.dynamo);
    const again = Buffer.from(await tableCursorKey(later.client, table, container()).key());
    expect(again).toEqual(first);
    expect(later.calls).toEqual(['GetItemCommand']);
  });

  it('does not open under another installation key, and a failed load is retried', async () => {
    const table = await freshWebhooksTable();
    const { dynamo } = standIns().clients;
    await tableCursorKey(dynamo, table, container()).key();
    const otherKeyFile = installationKeyPath(otherRoot);
    const foreign = tableCursorKey(
      dynamo,
      table,
      new EnvelopeCipher(new LocalDataKeyProvider(otherKeyFile)),
    );
    await expect(foreign.key()).rejects.toThrow(/another installation key/);
    await expect(foreign.key()).rejects.toThrow(/another installation key/);

    // A read that failed once (the table unreachable for a moment) is made again next time.
    let failures = 1;
    const flaky = {
      send: (command: never) =>
        failures-- > 0 ? Promise.reject(new Error('connection reset')) : dynamo.send(command),
    } as unknown as DynamoDBClient;
    const recovering = tableCursorKey(flaky, table, container());
    await expect(recovering.key()).rejects.toThrow('connection reset');
    expect(Buffer.from(await recovering.key())).toEqual(
      Buffer.from(await tableCursorKey(dynamo, table, container()).key()),
    );
  });

  it('reports a failed first write as it failed, and makes the key on the next call', async () => {
    const table = await freshWebhooksTable();
    const { dynamo } = standIns().clients;
    // The write of the new key fails once (not a lost race): that error is what the caller sees.
    let failures = 1;
    const flaky = {
      send: (command: { constructor: { name: string } }) =>
        command.constructor.name === 'PutItemCommand' && failures-- > 0
          ? Promise.reject(new Error('connection reset'))
          : dynamo.send(command as never),
    } as unknown as DynamoDBClient;
    const source = tableCursorKey(flaky, table, container());
    await expect(source.key()).rejects.toThrow('connection reset');
    expect(await readSealed(dynamo, table)).toBeUndefined();
    const key = Buffer.from(await source.key());
    expect(key).toEqual(await openCursorKey((await readSealed(dynamo, table))!, container()));
  });

  it('does not open as anything else: a value sealed for another place is refused', async () => {
    const table = await freshWebhooksTable();
    const { dynamo } = standIns().clients;
    const cipher = container();
    await dynamo.send(
      new PutItemCommand({
        TableName: table,
        Item: {
          id: { S: WEBHOOKS_TABLE.cursorKeyItemId },
          sealed: { S: await cipher.seal(Buffer.alloc(32, 1).toString('base64'), 'webhook:wh_x') },
        },
      }),
    );
    await expect(tableCursorKey(dynamo, table, cipher).key()).rejects.toThrow();
    const right = await cipher.seal(Buffer.alloc(32, 1).toString('base64'), CURSOR_KEY_AAD);
    expect(await openCursorKey(right, cipher)).toEqual(Buffer.alloc(32, 1));
    // Sealed in the right place but not a key of 32 bytes: refused, not used to sign cursors.
    const short = await cipher.seal(Buffer.alloc(16, 1).toString('base64'), CURSOR_KEY_AAD);
    await expect(openCursorKey(short, cipher)).rejects.toThrow(/malformed/);
  });

  it('is not a webhook: the definition store neither lists, reads nor deletes its item', async () => {
    const table = await freshWebhooksTable();
    const { dynamo } = standIns().clients;
    await tableCursorKey(dynamo, table, container()).key();
    const store = new DynamoWebhookStore(dynamo, table, container());
    expect(await store.list()).toEqual([]);
    expect(await store.get(WEBHOOKS_TABLE.cursorKeyItemId)).toBeUndefined();
    expect(await store.delete(WEBHOOKS_TABLE.cursorKeyItemId)).toBe(false);
    expect(await readSealed(dynamo, table)).toMatch(/^enc1\./);
  });
});
