/**
 * The console's edit form and a kept Basic Auth password, in Chromium against local mode: once
 * the URL goes to another host the password field is required, with the reason next to it; Save
 * is refused there and nothing is stored; with the password entered the save goes through and
 * the next delivery reaches the new host with the new password. Screenshot in
 * test/browser/.artifacts/.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { apiClient, killAllLocal, type LocalProcess, startLocal } from '../e2e/helpers';
import { eventually } from '../support/eventually';
import { ok, type Receiver, startReceiver } from '../support/receivers';
import { type Browser, hasAttr, hasText, launchBrowser } from './support';

const ARTIFACTS = path.resolve(__dirname, '.artifacts');

let local: LocalProcess;
let before: Receiver;
let after: Receiver;
let browser: Browser;
let page: Page;
let api: ReturnType<typeof apiClient>;

beforeAll(async () => {
  browser = await launchBrowser();
  before = await startReceiver(ok());
  after = await startReceiver(ok(), { host: '127.0.0.2' });
  local = await startLocal({
    env: { DEFINITION_CACHE_TTL_SECONDS: '0' },
  });
  api = apiClient(local.url, local.token);
  page = browser.context.pages()[0] ?? (await browser.context.newPage());
});

afterAll(async () => {
  await browser?.close();
  await local?.stop().catch(() => undefined);
  await before?.close().catch(() => undefined);
  await after?.close().catch(() => undefined);
  await killAllLocal();
});

describe('a kept password and a new destination in the console', () => {
  test('asks for the password again when the URL host changes, refuses Save without it, saves with it', async () => {
    const definition = {
      name: 'Ledger with Basic Auth',
      events: ['LOAN_DISBURSEMENT'],
      url: `${before.url}/loans`,
      auth: { type: 'basic', username: 'svc', password: 'first-password' },
    };
    const created = await api.post('/webhooks', definition);
    expect(created.status).toBe(201);
    const id = created.body.id as string;

    // Local mode's API holds the rule the form anticipates: "***" does not follow the URL away.
    const direct = await api.put(`/webhooks/${id}`, {
      ...definition,
      url: `${after.url}/loans`,
      auth: { type: 'basic', username: 'svc', password: '***' },
    });
    expect(direct.status).toBe(400);
    expect(direct.body.error.details).toEqual([
      { path: 'auth.password', message: expect.stringContaining('destination changed') },
    ]);

    await page.goto(`${local.url}/console/#/webhooks/${encodeURIComponent(id)}`);
    await page.getByLabel('API token').fill(local.token);
    await page.getByLabel('API token').press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Ledger with Basic Auth' }).waitFor();

    const url = page.getByLabel(/^URL/);
    const password = page.getByLabel(/^Password/);
    await hasAttr(password, 'placeholder', 'unchanged');
    expect(await password.getAttribute('aria-invalid')).toBeNull();

    // A path change keeps the password: nothing is asked.
    await url.fill(`${before.url}/loans/v2`);
    expect(await password.getAttribute('required')).toBeNull();

    // Another host: required, with the reason, before any Save.
    await url.fill(`${after.url}/loans`);
    await hasAttr(password, 'aria-invalid', 'true');
    expect(await password.getAttribute('required')).not.toBeNull();
    const reason = page.locator(`#${await password.getAttribute('aria-describedby')}`);
    await hasText(reason, 'Enter the password again');

    await page.getByRole('button', { name: 'Save' }).click();
    await hasText(page.getByRole('alert').first(), 'Not saved');
    await hasText(reason, 'another destination');
    expect(await page.evaluate('document.activeElement?.getAttribute("type")')).toBe('password');
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'password-again.png'), fullPage: true });
    const unchanged = await api.get(`/webhooks/${id}`);
    expect(unchanged.body).toMatchObject({ url: `${before.url}/loans`, version: 1 });

    await password.fill('second-password');
    await hasAttr(password, 'required', null);
    await page.getByRole('button', { name: 'Save' }).click();
    await hasText(page.locator('p.ok[role="status"]'), 'Saved (version 2).');
    const saved = await api.get(`/webhooks/${id}`);
    expect(saved.body).toMatchObject({
      url: `${after.url}/loans`,
      auth: { type: 'basic', username: 'svc', password: '***' },
    });

    // The new host gets the new password; the old host gets nothing.
    const published = await api.post('/events', {
      type: 'LOAN_DISBURSEMENT',
      data: { loanId: 'L-1', amount: 1 },
    });
    expect(published.status).toBe(202);
    await eventually(async () => (after.requests.length === 1 ? true : undefined), {
      what: 'a delivery to the new host',
    });
    expect(after.requests[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from('svc:second-password').toString('base64')}`,
    );
    expect(before.requests).toEqual([]);
  });
});
