/**
 * The operator console, end to end in Chromium against local mode started as `npm start`
 * starts it, with a loopback receiver: sign in, validation errors next to their field, create a
 * webhook with a live preview, see its delivery in the history, open it, resend and watch the
 * attempt appear, bulk-resend a range and watch the progress reach its count, the overview and
 * a phone-sized screen. Screenshots of each main page go to test/browser/.artifacts/ (and to
 * docs/console/ with UPDATE_CONSOLE_SCREENSHOTS=1).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { apiClient, killAllLocal, type LocalProcess, startLocal } from '../e2e/helpers';
import { eventually } from '../support/eventually';
import { ok, type Receiver, startReceiver } from '../support/receivers';
import { type Browser, hasAttr, hasCount, hasText, launchBrowser } from './support';

const ARTIFACTS = path.resolve(__dirname, '.artifacts');
const DOCS = path.resolve(__dirname, '../../docs/console');

let local: LocalProcess;
let receiver: Receiver;
let context: BrowserContext;
let page: Page;
let api: ReturnType<typeof apiClient>;
let browser: Browser;
let webhookId: string;

async function shot(name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  if (process.env.UPDATE_CONSOLE_SCREENSHOTS === '1') {
    fs.mkdirSync(DOCS, { recursive: true });
    fs.copyFileSync(file, path.join(DOCS, `${name}.png`));
  }
}

async function publish(n: number, loanPrefix: string): Promise<void> {
  for (let i = 1; i <= n; i++) {
    const res = await api.post('/events', {
      type: 'LOAN_DISBURSEMENT',
      data: { loanId: `${loanPrefix}-${i}`, amount: 1000 * i, branch: 'north' },
    });
    expect(res.status).toBe(202);
    expect(res.body.notifications).toBe(1);
  }
}

beforeAll(async () => {
  browser = await launchBrowser();
  context = browser.context;
  receiver = await startReceiver(ok('{"received":true}', { 'content-type': 'application/json' }));
  local = await startLocal({
    env: { RETRY_TIME_SCALE: '0.001', DEFINITION_CACHE_TTL_SECONDS: '0' },
  });
  api = apiClient(local.url, local.token);
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: local.url });
  page = context.pages()[0] ?? (await context.newPage());
});

afterAll(async () => {
  await browser?.close();
  await local?.stop().catch(() => undefined);
  await receiver?.close().catch(() => undefined);
  await killAllLocal();
});

describe('operator console in Chromium against local mode', () => {
  test('is served at /console/ and signs in with the API token, kept in sessionStorage only', async () => {
    await page.goto(`${local.url}/console/`);
    await page.getByLabel('API token').fill('not-the-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await hasText(page.getByRole('alert').first(), 'refused');

    await page.getByLabel('API token').fill(local.token);
    // Keyboard: Enter submits the form.
    await page.getByLabel('API token').press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    // Nothing published yet: the chart says so in words, not only with 24 empty bars.
    await page.getByText('No notifications in the last 24 hours.').waitFor();

    const storage = (await page.evaluate(
      '({ session: JSON.stringify(sessionStorage), local: JSON.stringify(localStorage) })',
    )) as { session: string; local: string };
    expect(storage.session).toContain(local.token);
    expect(storage.local).not.toContain(local.token);
  });

  test('shows the API validation error next to the field it concerns, and saves nothing', async () => {
    await page.getByRole('link', { name: 'Webhooks' }).click();
    await page.getByRole('link', { name: 'New webhook' }).click();
    await page.getByLabel('Name', { exact: true }).fill('Broken');
    await page.getByLabel(/^Event types/).fill('LOAN_DISBURSEMENT');
    await page.getByLabel(/^URL/).fill('https://example.com/{{ data.loanId');
    await page.getByRole('button', { name: 'Save' }).click();

    const urlInput = page.getByLabel(/^URL/);
    await hasText(page.getByRole('alert').first(), 'Not saved');
    await hasAttr(urlInput, 'aria-invalid', 'true');
    const describedBy = await urlInput.getAttribute('aria-describedby');
    expect(await page.locator(`#${describedBy}`).textContent()).not.toBe('');
    await shot('validation-error');
    expect((await api.get('/webhooks')).body.items).toEqual([]);
  });

  test('creates a webhook and previews the request it renders against a sample event', async () => {
    await page.getByLabel(/^URL/).fill(`${receiver.url}/loans/{{ data.loanId }}`);
    await page.getByRole('button', { name: 'Add header' }).click();
    await page.getByLabel('Header name 1').fill('X-Branch');
    await page.getByLabel('Header value 1').fill('{{ data.branch }}');
    await page
      .getByLabel(/^Body/)
      .fill('{"loan": {{ data.loanId | json }}, "amount": {{ data.amount }}}');
    await page.getByLabel('Name', { exact: true }).fill('Loan disbursed to ledger');
    await page.getByRole('button', { name: 'Save' }).click();

    await page.getByRole('heading', { level: 1, name: 'Loan disbursed to ledger' }).waitFor();
    webhookId = decodeURIComponent(new URL(page.url()).hash.split('/')[2] ?? '');
    expect(webhookId).toMatch(/^wh_/);
    const stored = await api.get(`/webhooks/${webhookId}`);
    expect(stored.body.headers).toEqual({ 'X-Branch': '{{ data.branch }}' });

    await page
      .getByLabel('Sample data (JSON)')
      .fill('{"loanId": "L-77", "amount": 2500, "branch": "south"}');
    await page.getByRole('button', { name: 'Preview' }).click();
    const preview = page.getByRole('complementary', { name: 'Preview' });
    await hasText(preview, `${receiver.url}/loans/L-77`);
    await hasText(preview, 'south');
    // The body is shown pretty-printed.
    await hasText(preview.locator('pre'), '"amount": 2500');
    await shot('webhook');
    expect(receiver.requests).toHaveLength(0);
  });

  test('lists the webhook and finds its delivery in the history, newest first', async () => {
    await page.getByRole('link', { name: 'Webhooks' }).click();
    const row = page.getByRole('row', { name: /Loan disbursed to ledger/ });
    await hasText(row, 'LOAN_DISBURSEMENT');
    await shot('webhooks');

    await publish(1, 'L');
    await eventually(async () => (receiver.requests.length >= 1 ? true : undefined), {
      what: 'the receiver to get the first delivery',
    });
    await page.getByRole('link', { name: 'History' }).first().click();
    await page.getByRole('heading', { level: 1, name: 'History' }).waitFor();
    await eventually(
      async () => {
        await page.getByRole('button', { name: 'Apply filters' }).click();
        return (await page.getByRole('row', { name: /SENT/ }).count()) === 1 ? true : undefined;
      },
      { what: 'the SENT notification in the history' },
    );
  });

  test('opens the notification: the request as sent and its attempt timeline', async () => {
    await page.getByRole('row', { name: /SENT/ }).getByRole('link', { name: /^ntf_/ }).click();
    await page.getByRole('heading', { level: 1, name: /^Notification ntf_/ }).waitFor();
    await hasText(page.locator('main'), `POST ${receiver.url}/loans/L-1`);
    await hasText(page.locator('main pre').first(), '"amount": 1000');
    const attempts = page.getByRole('list', { name: 'Attempts' }).getByRole('listitem');
    await hasCount(attempts, 1);
    await hasText(attempts.first(), 'initial');
    await hasText(attempts.first(), 'HTTP 200');
    expect(page.url()).toMatch(/#\/notifications\/ntf_/);
  });

  test('resends the notification and the manual attempt appears', async () => {
    await page.getByRole('button', { name: 'Resend' }).click();
    const attempts = page.getByRole('list', { name: 'Attempts' }).getByRole('listitem');
    await hasCount(attempts, 2);
    await hasText(attempts.nth(1), 'manual');
    await hasText(attempts.nth(1), 'HTTP 200');
    await shot('notification');
    expect(receiver.requests.filter((r) => r.url === '/loans/L-1')).toHaveLength(2);
  });

  test('bulk-resends a range of selected rows and the progress bar reaches its count', async () => {
    await publish(3, 'B');
    await eventually(
      async () =>
        (await api.get(`/notifications?webhookId=${webhookId}&status=SENT`)).body.items.length === 4
          ? true
          : undefined,
      { what: 'four SENT notifications' },
    );
    await page.goto(`${local.url}/console/#/history?webhookId=${webhookId}`);
    await page.getByRole('heading', { level: 1, name: 'History' }).waitFor();
    const boxes = page.getByRole('checkbox', { name: /^Select ntf_/ });
    await hasCount(boxes, 4);
    // Click the first, shift+click the third: the three rows between are selected.
    await boxes.nth(0).click();
    await boxes.nth(2).click({ modifiers: ['Shift'] });
    await page.getByRole('button', { name: 'Resend selected (3)' }).waitFor();
    expect(await page.getByRole('button', { name: 'Resend selected (3)' }).isEnabled()).toBe(true);
    const before = receiver.requests.length;
    await page.getByRole('button', { name: 'Resend selected (3)' }).click();
    await hasText(page.getByTestId('job-progress'), '3 of 3 done');
    await hasText(page.getByTestId('job-progress'), 'finished');
    expect(await page.getByRole('progressbar').getAttribute('value')).toBe('3');
    expect(receiver.requests.length - before).toBe(3);
    await shot('history');

    // The filtered range (status SENT of this webhook) as one job: four notifications.
    await page.getByLabel('Status').selectOption('SENT');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByRole('button', { name: 'Resend range' }).click();
    await page.getByRole('button', { name: 'Resend them' }).click();
    await hasText(page.getByTestId('job-progress'), '4 of 4 done');
  });

  test('overview: the chart counts the deliveries, and the sender IPs can be copied', async () => {
    await page.getByRole('link', { name: 'Overview' }).click();
    const chart = page.getByRole('img', { name: /Last 24 hours/ });
    await hasAttr(chart, 'aria-label', /4 sent, 0 failed/);
    expect(await page.getByText('No notifications in the last 24 hours.').count()).toBe(0);
    await page.getByRole('button', { name: 'Copy sender IPs' }).click();
    await page.getByRole('status').filter({ hasText: 'Copied' }).waitFor();
    const ips = (await api.get('/sender-ips')).body.ips as string[];
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(ips.join('\n'));
    await shot('overview');
  });

  test('fits a phone screen without sideways scrolling', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${local.url}/console/#/notifications/${await firstNotificationId()}`);
    await page.getByRole('button', { name: 'Resend' }).waitFor();
    const overflow = await page.evaluate(
      'document.documentElement.scrollWidth - document.documentElement.clientWidth',
    );
    expect(overflow).toBe(0);
    await shot('phone-notification');
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  test('pauses the webhook: what arrives waits (PAUSED), and goes out on resume', async () => {
    await page.goto(`${local.url}/console/#/webhooks/${webhookId}`);
    const health = page.getByRole('region', { name: 'Health' });
    await hasText(health, 'CLOSED');
    await health.getByRole('button', { name: 'Pause' }).click();
    await hasText(health, 'PAUSED');
    await health.getByRole('button', { name: 'Resume' }).waitFor();
    expect((await api.get(`/webhooks/${webhookId}/health`)).body.state).toBe('PAUSED');

    // The pause reaches the delivery path within its health cache: publish until one waits.
    let n = 0;
    const waiting = await eventually(
      async () => {
        n++;
        const res = await api.post('/events', {
          type: 'LOAN_DISBURSEMENT',
          data: { loanId: `P-${n}`, amount: 500, branch: 'west' },
        });
        const eventId = res.body.eventId as string;
        const found = await eventually(
          async () => {
            const page = await api.get(`/notifications?webhookId=${webhookId}&limit=20`);
            const item = page.body.items.find((i: { eventId: string }) => i.eventId === eventId);
            return item && item.status !== 'QUEUED' ? item : undefined;
          },
          { what: `the notification of ${eventId}` },
        );
        return found.status === 'WAITING' ? (found.id as string) : undefined;
      },
      { what: 'a notification waiting for the paused webhook' },
    );
    await page.goto(`${local.url}/console/#/webhooks`);
    await hasText(page.getByRole('row', { name: /Loan disbursed to ledger/ }), 'PAUSED');
    await shot('webhooks');

    await page.goto(`${local.url}/console/#/notifications/${waiting}`);
    await hasText(page.getByTestId('waiting-reason'), 'PAUSED');
    await shot('notification-waiting');

    await page.goto(`${local.url}/console/#/webhooks/${webhookId}`);
    await health.getByRole('button', { name: 'Resume' }).click();
    await hasText(health, 'CLOSED');
    await health.getByRole('button', { name: 'Pause' }).waitFor();
    await eventually(
      async () =>
        (await api.get(`/notifications/${waiting}`)).body.status === 'SENT' ? true : undefined,
      { what: 'the waiting notification to go out after the resume' },
    );
  });

  test('deletes the webhook after confirmation', async () => {
    await page.goto(`${local.url}/console/#/webhooks/${webhookId}`);
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect((await api.get(`/webhooks/${webhookId}`)).status).toBe(200);
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    await dialog.getByRole('button', { name: 'Delete webhook' }).click();
    await page.getByRole('heading', { level: 1, name: 'Webhooks' }).waitFor();
    expect((await api.get(`/webhooks/${webhookId}`)).status).toBe(404);
  });

  test('offers the published event types, and checks conditions against a sample event', async () => {
    await page.goto(`${local.url}/console/#/webhooks/new`);
    const catalogue = page.getByRole('group', { name: 'Published event types' });
    await catalogue.getByRole('checkbox', { name: /LOAN_DISBURSEMENT/ }).check();
    expect(await page.getByLabel(/^Event types/).inputValue()).toBe('LOAN_DISBURSEMENT');

    await page.getByLabel('Name', { exact: true }).fill('Large loans');
    await page.getByLabel(/^URL/).fill(`${receiver.url}/large`);
    await page.getByLabel('Only for events whose data match').check();
    await page.getByRole('button', { name: 'Add rule' }).click();
    await page.getByLabel('Field 1').fill('data.amount');
    await page.getByLabel('Operator 1').selectOption('in');
    await page.getByLabel('Value 1').fill('2000');
    // Where the keyboard is at the moment a field is first marked invalid (a mutation observer
    // runs before the next frame): focus moves with the error, not a frame later.
    await page.evaluate(`void (window.focusWhenInvalid = new Promise((resolve) => {
      const seen = new MutationObserver(() => {
        const field = document.querySelector('[aria-invalid="true"]');
        if (!field) return;
        seen.disconnect();
        const name = field.getAttribute('aria-label') ?? field.closest('label')?.textContent;
        resolve(field === document.activeElement ? name : 'elsewhere');
      });
      seen.observe(document.body, { subtree: true, attributeFilter: ['aria-invalid'] });
    }))`);
    await page.getByRole('button', { name: 'Save' }).click();
    // A bad rule: the API's error shows on that rule's row, named as the form numbers it (the
    // API counts rules from 0), the keyboard lands on the field, and nothing is saved.
    const value1 = page.getByLabel('Value 1');
    await hasAttr(value1, 'aria-invalid', 'true');
    expect(await value1.getAttribute('aria-describedby')).toBe('err-rule-0');
    await hasText(page.locator('#err-rule-0'), /^Value 1: /);
    await hasText(page.getByRole('alert').first(), 'Value 1');
    expect(await page.getByRole('alert').first().textContent()).not.toContain('rules[0]');
    expect(
      await page.evaluate(
        'document.activeElement?.getAttribute("aria-label") ?? document.activeElement?.closest("label")?.textContent',
      ),
    ).toContain('Value 1');
    expect(await page.evaluate('window.focusWhenInvalid')).toContain('Value 1');
    expect(await page.getByLabel('Field 1').getAttribute('aria-invalid')).toBeNull();
    expect((await api.get('/webhooks')).body.items).toHaveLength(0);

    await page.getByLabel('Operator 1').selectOption('gte');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('heading', { level: 1, name: 'Large loans' }).waitFor();

    const preview = page.getByRole('complementary', { name: 'Preview' });
    await page.getByLabel('Sample data (JSON)').fill('{"loanId": "S-1", "amount": 1000}');
    await page.getByRole('button', { name: 'Preview' }).click();
    await hasText(preview.getByTestId('match'), 'would not match');
    await hasText(preview.getByTestId('match'), 'Rule 1 does not hold');
    await page.getByLabel('Sample data (JSON)').fill('{"loanId": "S-2", "amount": 2500}');
    await page.getByRole('button', { name: 'Preview' }).click();
    await hasText(preview.getByTestId('match'), 'would match');
    await shot('webhook-conditions');
  });

  test('shows a signing secret generated at creation once, on the page of the webhook it made', async () => {
    await page.goto(`${local.url}/console/#/webhooks/new`);
    await page.getByLabel('Name', { exact: true }).fill('Signed partner');
    await page.getByLabel(/^Event types/).fill('LOAN_DISBURSEMENT');
    await page.getByLabel(/^URL/).fill(`${receiver.url}/signed`);
    await page.getByLabel('Signing secret').selectOption('generate');
    await page.getByRole('button', { name: 'Save' }).click();

    await page.getByRole('heading', { level: 1, name: 'Signed partner' }).waitFor();
    const secret = page.locator('.notice code');
    await hasText(secret, /^whsec_[A-Za-z0-9+/=]{20,}$/);
    const first = await secret.textContent();
    await hasText(page.locator('p.ok[role="status"]'), 'Saved (version 1).');
    // Shown once: the stored definition masks it, and the page of the webhook opened again does not show it.
    const id = decodeURIComponent(new URL(page.url()).hash.split('/')[2] ?? '');
    expect((await api.get(`/webhooks/${id}`)).body.signingSecret).toBe('whsec_***');
    await page.goto(`${local.url}/console/#/webhooks`);
    await page.goto(`${local.url}/console/#/webhooks/${id}`);
    await page.getByRole('heading', { level: 1, name: 'Signed partner' }).waitFor();
    expect(await page.locator('.notice code').count()).toBe(0);

    // Rotating keeps the current secret signing beside the new one (the API's grace period).
    await page.getByLabel('Signing secret').selectOption('rotate');
    await page.getByRole('button', { name: 'Save' }).click();
    await hasText(page.locator('p.ok[role="status"]'), /the previous one signs beside it for 24 h/);
    // The keyboard stays on Save (a disabled button would have dropped focus to the page).
    expect(await page.evaluate('document.activeElement?.textContent?.trim()')).toBe('Save');
    await hasText(secret, /^whsec_[A-Za-z0-9+/=]{20,}$/);
    expect(await secret.textContent()).not.toBe(first);
    const rotated = (await api.get(`/webhooks/${id}`)).body;
    expect(Date.parse(rotated.signingGraceUntil)).toBeGreaterThan(Date.now() + 23 * 3600_000);
  });

  test('fits the webhook list on a phone screen without sideways scrolling, long names included', async () => {
    const long = `Partner ${'x'.repeat(200)}`;
    expect(
      (
        await api.post('/webhooks', {
          name: long,
          events: [`EVENT_${'Y'.repeat(200)}`],
          url: `${receiver.url}/long`,
        })
      ).status,
    ).toBe(201);
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${local.url}/console/#/webhooks`);
    await page.getByRole('link', { name: long, exact: true }).waitFor();
    const overflow = await page.evaluate(
      'document.documentElement.scrollWidth - document.documentElement.clientWidth',
    );
    expect(overflow).toBe(0);
    await page.setViewportSize({ width: 1280, height: 860 });
  });
});

async function firstNotificationId(): Promise<string> {
  const res = await api.get(`/notifications?webhookId=${webhookId}&limit=1`);
  return res.body.items[0].id as string;
}
