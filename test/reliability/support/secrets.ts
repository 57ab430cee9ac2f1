/**
 * Secrets used by the suite and the search for them: every Basic Auth password and signing
 * secret, in clear and in the forms they take on the wire (base64 of `user:password` in an
 * Authorization header, the key part of `whsec_...`), searched in logs, history, API
 * responses, queue messages and state files. Receivers legitimately get the Authorization
 * header; what they received is never searched.
 *
 * Keys the platform makes itself are searched too: ed25519 private keys (kept sealed in the
 * Webhooks item as `whsk_` + base64 of the 32-byte seed), subject keys (32 random bytes,
 * kept wrapped in the SubjectKeys table) and the pagination-cursor secret (32 random bytes,
 * sealed in its Webhooks item). The suite never sees them, so platformKeys() opens them from
 * the tables with the installation key, as the platform does.
 */
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { createReadStream, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { type AttributeValue, type DynamoDBClient, paginateScan } from '@aws-sdk/client-dynamodb';
import { openCursorKey, readSealed } from '../../../lambdas/adapters/cursor-key';
import { decodeCursor, planList } from '../../../lambdas/adapters/dynamo-listing';
import { DynamoWebhookStore } from '../../../lambdas/adapters/dynamo-stores';
import {
  DICTIONARY_ID_PREFIX,
  dictionaryOfItem,
} from '../../../lambdas/adapters/payload-dictionary';
import { PACKED_ATTRIBUTES, unpackRequest } from '../../../lambdas/adapters/payload-packing';
import { isSealedPayload, openSealedPayload } from '../../../lambdas/adapters/payload-sealing';
import type { EnvelopeCipher } from '../../../lambdas/core/crypto/envelope';
import type { NotificationQuery } from '../../../lambdas/ports';

export interface SecretSet {
  readonly username: string;
  readonly password: string;
  readonly signingSecret: string;
}

/** Distinctive values: long random text nobody would log by chance. */
export function newSecrets(label: string): SecretSet {
  return {
    username: `svc-${label}`,
    password: `pw-${label}-${randomBytes(12).toString('hex')}`,
    signingSecret: `whsec_${randomBytes(32).toString('base64')}`,
  };
}

/** The needles for one set: each clear value and its wire forms. */
export function needlesOf(s: SecretSet): string[] {
  const key = s.signingSecret.replace(/^whsec_/, '');
  return [
    s.password,
    Buffer.from(`${s.username}:${s.password}`).toString('base64'),
    Buffer.from(s.password).toString('base64'),
    s.signingSecret,
    key,
    // The key as it would appear if someone logged the decoded bytes.
    Buffer.from(key, 'base64').toString('hex'),
  ];
}

/**
 * Every form an ed25519 private key (`whsk_` + base64 of the seed) could leak in: as kept, the
 * seed in base64, base64url (a JWK's `d`), hex and raw bytes, and the PKCS#8 PEM body.
 */
export function privateKeyNeedles(privateKey: string): string[] {
  const seed = Buffer.from(privateKey.replace(/^whsk_/, ''), 'base64');
  const pem = privateKeyObject(seed)
    .export({ format: 'pem', type: 'pkcs8' })
    .toString()
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('-----'))
    .join('');
  return [
    privateKey,
    seed.toString('base64'),
    seed.toString('base64url'),
    seed.toString('hex'),
    seed.toString('latin1'),
    pem,
  ];
}

/** Every form a subject key or the cursor secret (32 random bytes) could leak in: base64 (as sealed), base64url, hex, raw. */
export function subjectKeyNeedles(key: Buffer): string[] {
  return [
    key.toString('base64'),
    key.toString('base64url'),
    key.toString('hex'),
    key.toString('latin1'),
  ];
}

function privateKeyObject(seed: Buffer) {
  // PKCS#8 of an ed25519 key: a fixed 16-byte prefix, then the 32-byte seed (RFC 8410).
  return createPrivateKey({
    key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]),
    format: 'der',
    type: 'pkcs8',
  });
}

/** The `whpk_` public key of a `whsk_` private key (proves the key found is the one in use). */
export function publicKeyOf(privateKey: string): string {
  const seed = Buffer.from(privateKey.replace(/^whsk_/, ''), 'base64');
  const jwk = createPublicKey(privateKeyObject(seed)).export({ format: 'jwk' }) as { x: string };
  return `whpk_${Buffer.from(jwk.x, 'base64url').toString('base64')}`;
}

export interface PlatformKeys {
  /** webhook id -> its `whsk_` private keys (current and any still in a grace period). */
  readonly privateKeys: ReadonlyMap<string, readonly string[]>;
  /** Every subject key left in the SubjectKeys table, unwrapped. */
  readonly subjectKeys: readonly Buffer[];
  /** The pagination-cursor secret, opened; undefined until something paged the history. */
  readonly cursorKey: Buffer | undefined;
  /** Sealed Payloads items, and how many of them one of those subject keys opens. */
  readonly sealedPayloads: number;
  readonly sealedPayloadsOpened: number;
}

/** Opens the keys the platform made from its tables, with its installation key (`cipher`). */
export async function platformKeys(
  client: DynamoDBClient,
  tables: { readonly webhooks: string; readonly subjectKeys: string; readonly payloads: string },
  cipher: EnvelopeCipher,
  webhookIds: readonly string[],
): Promise<PlatformKeys> {
  const store = new DynamoWebhookStore(client, tables.webhooks, cipher);
  const privateKeys = new Map<string, string[]>();
  for (const id of webhookIds) {
    const def = await store.get(id);
    const keys = [
      def?.signingKey?.privateKey,
      ...(def?.retiredSigningKeys ?? []).map((k) => k.keyPair?.privateKey),
    ].filter((k): k is string => k !== undefined);
    if (keys.length > 0) privateKeys.set(id, keys);
  }
  const byId = new Map<string, Buffer>();
  for await (const page of paginateScan({ client }, { TableName: tables.subjectKeys })) {
    for (const item of page.Items ?? []) {
      const id = item.id?.S ?? '';
      if (id.startsWith('k#') && item.wrapped?.S)
        byId.set(id, Buffer.from(await cipher.open(item.wrapped.S, id), 'base64'));
    }
  }
  let sealedPayloads = 0;
  let sealedPayloadsOpened = 0;
  const dictionaries = await payloadDictionaries(client, tables.payloads);
  for await (const page of paginateScan({ client }, { TableName: tables.payloads })) {
    for (const item of page.Items ?? []) {
      if (!isSealedPayload(item)) continue;
      sealedPayloads += 1;
      const dictionary = dictionaryOfItem(item, dictionaries);
      const opened = await openSealedPayload(item, async (id) => byId.get(id), dictionary).then(
        () => true,
        () => false,
      );
      if (opened) sealedPayloadsOpened += 1;
    }
  }
  const subjectKeys = [...byId.values()];
  const sealedCursorKey = await readSealed(client, tables.webhooks);
  const cursorKey =
    sealedCursorKey === undefined ? undefined : await openCursorKey(sealedCursorKey, cipher);
  return { privateKeys, subjectKeys, cursorKey, sealedPayloads, sealedPayloadsOpened };
}

/** Whether `cursor`, as the API issued it for `query`, carries a MAC under `key`. */
export function cursorVerifies(
  key: Buffer | undefined,
  cursor: string,
  query: NotificationQuery,
): boolean {
  if (key === undefined) return false;
  try {
    decodeCursor(key, cursor, planList(query).fingerprint);
    return true;
  } catch {
    return false;
  }
}

/** The needles of every key the platform made. */
export function platformKeyNeedles(keys: PlatformKeys): string[] {
  return [
    ...[...keys.privateKeys.values()].flat().flatMap(privateKeyNeedles),
    ...keys.subjectKeys.flatMap(subjectKeyNeedles),
    ...(keys.cursorKey === undefined ? [] : subjectKeyNeedles(keys.cursorKey)),
  ];
}

/** The compression dictionary items of a Payloads table, by id (payload-dictionary.ts). */
export async function payloadDictionaries(
  client: DynamoDBClient,
  table: string,
): Promise<Map<string, Record<string, AttributeValue>>> {
  const found = new Map<string, Record<string, AttributeValue>>();
  const input = {
    TableName: table,
    FilterExpression: 'begins_with(id, :prefix)',
    ExpressionAttributeValues: { ':prefix': { S: DICTIONARY_ID_PREFIX } },
  };
  for await (const page of paginateScan({ client }, input))
    for (const item of page.Items ?? []) found.set(item.id?.S ?? '', item);
  return found;
}

/**
 * Scanned items as searchable text, packed (compressed) stored requests unpacked first: a secret
 * inside compressed bytes would otherwise escape the search. Requests packed with a dictionary
 * need the table's dictionary items (payloadDictionaries).
 */
export function scannedItemsText(
  items: readonly Record<string, AttributeValue>[] | undefined,
  dictionaries: ReadonlyMap<string, Record<string, AttributeValue>> = new Map(),
): string {
  return JSON.stringify(
    (items ?? []).map((item) => {
      const packing = item[PACKED_ATTRIBUTES.packing]?.S;
      const bytes = item[PACKED_ATTRIBUTES.request]?.B;
      if (packing === undefined || bytes === undefined) return item;
      const request = unpackRequest(packing, bytes, dictionaryOfItem(item, dictionaries));
      return { ...item, [PACKED_ATTRIBUTES.request]: request };
    }),
  );
}

export interface Finding {
  readonly where: string;
  readonly needle: string;
}

export interface Haystack {
  readonly where: string;
  readonly text: string;
}

/** Searches texts; returns every (place, needle) hit. JSON-escaped forms are searched too. */
export function searchTexts(haystacks: readonly Haystack[], needles: readonly string[]): Finding[] {
  const forms = expand(needles);
  const findings: Finding[] = [];
  for (const h of haystacks) {
    for (const [needle, original] of forms) {
      if (h.text.includes(needle)) findings.push({ where: h.where, needle: original });
    }
  }
  return findings;
}

/** Streams files (any size) and searches them, chunk boundaries included. */
export async function searchFiles(
  files: readonly string[],
  needles: readonly string[],
): Promise<Finding[]> {
  const forms = expand(needles);
  const longest = Math.max(...[...forms.keys()].map((n) => n.length));
  const findings: Finding[] = [];
  for (const file of files) {
    const found = new Set<string>();
    let carry = '';
    for await (const chunk of createReadStream(file, {
      encoding: 'latin1',
      highWaterMark: 1 << 20,
    })) {
      const text = carry + (chunk as string);
      for (const [needle, original] of forms) if (text.includes(needle)) found.add(original);
      carry = text.slice(-longest);
    }
    for (const needle of found) findings.push({ where: file, needle });
  }
  return findings;
}

/** Every regular file under a directory. */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const p = path.join(dir, entry);
    const st = statSync(p);
    if (st.isDirectory()) out.push(...filesUnder(p));
    else if (st.isFile()) out.push(p);
  }
  return out;
}

/** needle form -> the needle it came from (clear, and as it appears inside a JSON string). */
function expand(needles: readonly string[]): Map<string, string> {
  const forms = new Map<string, string>();
  for (const n of needles) {
    forms.set(n, n);
    const json = JSON.stringify(n).slice(1, -1);
    if (json !== n) forms.set(json, n);
    // base64 '/' may appear escaped in some JSON encoders.
    if (n.includes('/')) forms.set(n.replace(/\//g, '\\/'), n);
  }
  return forms;
}

export interface OutputCapture {
  /** Everything written to stdout and stderr while capturing. */
  text(): string;
  /** What was written since the last take() (and forgets it). */
  take(): string;
  restore(): void;
}

/**
 * Captures what in-process handlers write (Powertools writes JSON lines through a Console bound
 * to process.stdout/stderr, which calls their write methods), without echoing it.
 */
export function captureProcessOutput(): OutputCapture {
  const chunks: string[] = [];
  const out = process.stdout.write;
  const err = process.stderr.write;
  const capture = (chunk: unknown, ...rest: unknown[]): boolean => {
    chunks.push(
      typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'),
    );
    const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    cb?.();
    return true;
  };
  process.stdout.write = capture as typeof process.stdout.write;
  process.stderr.write = capture as typeof process.stderr.write;
  return {
    text: () => chunks.join(''),
    take: () => chunks.splice(0, chunks.length).join(''),
    restore() {
      process.stdout.write = out;
      process.stderr.write = err;
    },
  };
}
