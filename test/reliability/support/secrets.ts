/**
 * Secrets used by the suite and the search for them: every Basic Auth password and signing
 * secret, in clear and in the forms they take on the wire (base64 of `user:password` in an
 * Authorization header, the key part of `whsec_...`), searched in logs, history, API
 * responses, queue messages and state files. Receivers legitimately get the Authorization
 * header; what they received is never searched.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { PACKED_ATTRIBUTES, unpackRequest } from '../../../lambdas/adapters/payload-packing';

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
 * Scanned items as searchable text, packed (compressed) stored requests unpacked first: a secret
 * inside compressed bytes would otherwise escape the search.
 */
export function scannedItemsText(
  items: readonly Record<string, AttributeValue>[] | undefined,
): string {
  return JSON.stringify(
    (items ?? []).map((item) => {
      const packing = item[PACKED_ATTRIBUTES.packing]?.S;
      const bytes = item[PACKED_ATTRIBUTES.request]?.B;
      if (packing === undefined || bytes === undefined) return item;
      return { ...item, [PACKED_ATTRIBUTES.request]: unpackRequest(packing, bytes) };
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
