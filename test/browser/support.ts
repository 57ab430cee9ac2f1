/**
 * What both browser suites share: Debian's Chromium started on a fresh profile, kept off the
 * network, and waits on what the page shows (it updates on its own).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import { eventually } from '../support/eventually';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface Browser {
  readonly context: BrowserContext;
  /** The fresh profile's folder, removed by `close`. */
  readonly userDataDir: string;
  close(): Promise<void>;
}

/** Chromium headless on a fresh profile for every run; the flags keep it off the (closed) network. */
export async function launchBrowser(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)`,
    );
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'webhooks-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 860 },
  });
  return {
    context,
    userDataDir,
    async close() {
      await context.close().catch(() => undefined);
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

const matches = (actual: string, expected: string | RegExp) =>
  typeof expected === 'string' ? actual.includes(expected) : expected.test(actual);

/** Waits until the element's text contains `expected` (the page updates on its own). */
export async function hasText(l: Locator, expected: string | RegExp): Promise<void> {
  let last = '';
  await eventually(
    async () => {
      last = (await l.textContent()) ?? '';
      return matches(last, expected) ? true : undefined;
    },
    { what: `text ${expected}` },
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last text: ${last}`);
  });
}

/** Waits until the tab's title contains `expected` (pages set it after they render). */
export async function hasTitle(page: Page, expected: string): Promise<void> {
  let last = '';
  await eventually(
    async () => {
      last = await page.title();
      return last.includes(expected) ? true : undefined;
    },
    { what: `title ${expected}` },
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last title: ${last}`);
  });
}

export async function hasCount(l: Locator, n: number): Promise<void> {
  await eventually(async () => ((await l.count()) === n ? true : undefined), {
    what: `${n} elements`,
  });
}

/** Waits until the attribute matches `expected`; `null`: until the element has no such attribute. */
export async function hasAttr(
  l: Locator,
  name: string,
  expected: string | RegExp | null,
): Promise<void> {
  let last: string | null = null;
  await eventually(
    async () => {
      last = await l.getAttribute(name);
      const ok = expected === null ? last === null : matches(last ?? '', expected);
      return ok ? true : undefined;
    },
    { what: `attribute ${name} ${expected}` },
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last value: ${last}`);
  });
}
