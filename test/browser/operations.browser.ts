/**
 * A day of operating the platform in the console (Chromium against local mode, as `npm start`
 * starts it): a healthy and a failing receiver on 127.0.0.1, circuits that open and webhooks
 * that an open circuit disables, what the operator sees meanwhile without reloading, pages that
 * are not there, and the history read page after page.
 */
import type { BrowserContext, Page } from 'playwright-core';
import { apiClient, killAllLocal, type LocalProcess, startLocal } from '../e2e/helpers';
import { eventually } from '../support/eventually';
import { always, ok, type Receiver, startReceiver } from '../support/receivers';
import { type Browser, hasAttr, hasText, hasTitle, launchBrowser } from './support';

let local: LocalProcess;
let healthy: Receiver;
let failing: Receiver;
let context: BrowserContext;
let page: Page;
let api: ReturnType<typeof apiClient>;
let browser: Browser;
/** The webhook whose circuit opened and disabled it. */
let disabledId: string;
/** A paused webhook with PAUSED_COUNT notifications waiting. */
let pausedId: string;
const PAUSED_COUNT = 60;

async function createWebhook(name: string, url: string, events = [name]): Promise<string> {
  const res = await api.post('/webhooks', { name, events, url, body: '{}' });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

async function healthOf(id: string): Promise<{ state: string; disabledReason: string | null }> {
  return (await api.get(`/webhooks/${id}/health`)).body;
}

async function publish(type: string, n: number): Promise<void> {
  const res = await api.post('/events', {
    events: Array.from({ length: n }, (_, i) => ({ type, data: { i } })),
  });
  expect(res.status).toBe(202);
}

beforeAll(async () => {
  browser = await launchBrowser();
  context = browser.context;
  healthy = await startReceiver(ok('{"received":true}', { 'content-type': 'application/json' }));
  failing = await startReceiver(always(500, 'down for maintenance'));
  local = await startLocal({
    env: {
      // Retries, cool-downs and the 120 h before auto-disable all scaled down: 120 h -> 4 min,
      // and AUTO_DISABLE_AFTER_HOURS 3 -> about 11 s of open circuit.
      RETRY_TIME_SCALE: '0.001',
      AUTO_DISABLE_AFTER_HOURS: '3',
      DEFINITION_CACHE_TTL_SECONDS: '0',
      HEALTH_CACHE_TTL_SECONDS: '0',
    },
  });
  api = apiClient(local.url, local.token);
  page = context.pages()[0] ?? (await context.newPage());
  await page.goto(`${local.url}/console/`);
  await page.getByLabel('API token').fill(local.token);
  await page.getByLabel('API token').press('Enter');
  await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
});

afterAll(async () => {
  await browser?.close();
  await local?.stop().catch(() => undefined);
  await healthy?.close().catch(() => undefined);
  await failing?.close().catch(() => undefined);
  await killAllLocal();
});

describe('operating the platform in the console', () => {
  test("a webhook's page follows its health without a reload: the circuit opens, then the webhook is disabled", async () => {
    const id = await createWebhook('Failing partner', `${failing.url}/in`);
    disabledId = id;
    await page.goto(`${local.url}/console/#/webhooks/${id}`);
    const health = page.getByRole('region', { name: 'Health' });
    await hasText(health, 'CLOSED');

    await publish('Failing partner', 6);
    await eventually(async () => ((await healthOf(id)).state === 'OPEN' ? true : undefined), {
      what: 'the circuit to open',
    });
    await hasText(health, 'OPEN');
    await hasText(health, /Next probe: /);

    await eventually(async () => ((await healthOf(id)).state === 'DISABLED' ? true : undefined), {
      what: 'the open circuit to disable the webhook',
      timeoutMs: 60_000,
    });
    await hasText(health, 'DISABLED');
    await hasText(health, 'AUTO_DISABLED');
    await health.getByRole('button', { name: 'Resume' }).waitFor();
  });

  test('resuming an auto-disabled webhook on its page turns its Enabled on, and a Save then keeps it on', async () => {
    const id = disabledId;
    await eventually(async () => ((await healthOf(id)).state === 'DISABLED' ? true : undefined), {
      what: 'the webhook to be auto-disabled',
      timeoutMs: 60_000,
    });
    await page.goto(`${local.url}/console/#/webhooks`);
    await page.goto(`${local.url}/console/#/webhooks/${id}`);
    const health = page.getByRole('region', { name: 'Health' });
    await hasText(health, 'AUTO_DISABLED');
    const enabled = page.getByRole('checkbox', { name: 'Enabled', exact: true });
    expect(await enabled.isChecked()).toBe(false);

    await health.getByRole('button', { name: 'Resume' }).click();
    await health.getByRole('button', { name: 'Pause' }).waitFor();
    expect((await api.get(`/webhooks/${id}`)).body.enabled).toBe(true);
    await eventually(async () => ((await enabled.isChecked()) ? true : undefined), {
      what: 'the Enabled box to follow the resume',
    });

    await page.getByLabel('Name', { exact: true }).fill('Failing partner, resumed');
    await page.getByRole('button', { name: 'Save' }).click();
    await hasText(page.locator('p.ok[role="status"]'), /^Saved/);
    const stored = (await api.get(`/webhooks/${id}`)).body;
    expect(stored.name).toBe('Failing partner, resumed');
    expect(stored.enabled).toBe(true);
  });

  test('the overview counts every waiting notification by reason, beyond the first 50', async () => {
    pausedId = await createWebhook('Paused partner', `${healthy.url}/paused`);
    expect((await api.post(`/webhooks/${pausedId}/pause`)).status).toBe(200);
    await publish('Paused partner', PAUSED_COUNT);
    await eventually(
      async () => {
        const res = await api.get(`/notifications?webhookId=${pausedId}&status=WAITING&limit=100`);
        return res.body.items.length === PAUSED_COUNT ? true : undefined;
      },
      { what: `${PAUSED_COUNT} notifications waiting for the paused webhook` },
    );

    await page.goto(`${local.url}/console/#/webhooks`);
    await page.goto(`${local.url}/console/#/overview`);
    const card = page
      .locator('section.card')
      .filter({ has: page.getByRole('heading', { name: 'Waiting notifications' }) });
    await hasText(card, `PAUSED: ${PAUSED_COUNT}`);
  });

  test('an unknown notification, webhook or page says it is not found, under its own heading and title', async () => {
    await page.goto(`${local.url}/console/#/notifications/ntf_00000000000000000000000000`);
    await page.getByRole('heading', { level: 1, name: 'Notification not found' }).waitFor();
    await hasTitle(page, 'Notification not found');
    await hasText(page.getByRole('alert'), 'NOT_FOUND');
    await page.getByRole('link', { name: 'History', exact: true }).last().waitFor();

    await page.evaluate('location.hash = "#/webhooks/wh_UNKNOWN"');
    await page.getByRole('heading', { level: 1, name: 'Webhook not found' }).waitFor();
    await hasTitle(page, 'Webhook not found');

    await page.evaluate('location.hash = "#/no-such-page"');
    await page.getByRole('heading', { level: 1, name: 'Page not found' }).waitFor();
  });

  test('a new page gives its heading the keyboard as it appears, not a frame later', async () => {
    await page.goto(`${local.url}/console/#/overview`);
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    // Read in the task that renders the new page: a key pressed right after navigating lands on
    // the new page's heading, never on what had focus before.
    const focusedAfter = async (hash: string) =>
      page.evaluate(`(async () => {
        const changed = new Promise((resolve) => addEventListener('hashchange', resolve, { once: true }));
        location.hash = ${JSON.stringify(hash)};
        await changed;
        await Promise.resolve();
        const active = document.activeElement;
        return active?.tagName + ' ' + active?.textContent?.trim();
      })()`);

    expect(await focusedAfter('#/history')).toBe('H1 History');
    expect(await focusedAfter('#/no-such-page')).toBe('H1 Page not found');
    await hasTitle(page, 'Page not found');
  });

  test('a resend of a notification that waits for a paused webhook says it waits too', async () => {
    const first = (await api.get(`/notifications?webhookId=${pausedId}&limit=1`)).body.items[0];
    await page.goto(`${local.url}/console/#/notifications/${first.id}`);
    await hasText(page.getByTestId('waiting-reason'), 'PAUSED');
    await page.getByRole('button', { name: 'Resend' }).click();
    const status = page.getByRole('status').filter({ hasText: 'Resend queued' });
    await hasText(status, 'paused');
    expect(await status.textContent()).not.toContain('waiting for the attempt');
  });

  test('the history read page after page keeps the keyboard on the rows, and back returns to the row opened', async () => {
    await page.goto(`${local.url}/console/#/history?webhookId=${pausedId}`);
    const links = page.getByRole('link', { name: /^ntf_/ });
    await eventually(async () => ((await links.count()) === 50 ? true : undefined), {
      what: 'the first page of 50',
    });
    await page.getByRole('button', { name: 'Load more' }).focus();
    await page.keyboard.press('Enter');
    await eventually(async () => ((await links.count()) === PAUSED_COUNT ? true : undefined), {
      what: 'the second page',
    });
    // The keyboard lands on the first row the page added.
    const row51 = (await links.nth(50).textContent()) as string;
    await eventually(
      async () =>
        (await page.evaluate('document.activeElement?.textContent')) === row51 ? true : undefined,
      { what: 'focus on the first added row' },
    );

    const opened = (await links.nth(55).textContent()) as string;
    await links.nth(55).click();
    await page.getByRole('heading', { level: 1, name: `Notification ${opened}` }).waitFor();
    await page.goBack();
    await page.getByRole('heading', { level: 1, name: 'History' }).waitFor();
    await eventually(async () => ((await links.count()) === PAUSED_COUNT ? true : undefined), {
      what: 'as many rows as before',
    });
    await eventually(
      async () =>
        (await page.evaluate('document.activeElement?.textContent')) === opened ? true : undefined,
      { what: 'focus back on the notification opened' },
    );
  });

  test('an API that does not answer is named as such, not as a bare "Failed to fetch"', async () => {
    await page.goto(`${local.url}/console/#/overview`);
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    await context.setOffline(true);
    try {
      await page.evaluate('location.hash = "#/webhooks"');
      await hasText(page.getByRole('alert').first(), 'The API did not answer');
      await hasText(page.getByRole('alert').first(), 'NETWORK_ERROR');
    } finally {
      await context.setOffline(false);
    }
  });

  test('resuming an auto-disabled webhook in the list drops its "disabled" mark', async () => {
    const id = await createWebhook('Second failing partner', `${failing.url}/second`);
    await publish('Second failing partner', 6);
    await eventually(
      async () => ((await healthOf(id)).disabledReason === 'AUTO_DISABLED' ? true : undefined),
      { what: 'the webhook to be auto-disabled', timeoutMs: 60_000 },
    );
    await page.goto(`${local.url}/console/#/overview`);
    await page.goto(`${local.url}/console/#/webhooks`);
    const row = page.getByRole('row', { name: /Second failing partner/ });
    await hasText(row, 'DISABLED');
    const mark = row.locator('.badge', { hasText: /^disabled$/ });
    await mark.waitFor();

    await row.getByRole('button', { name: 'Resume Second failing partner' }).click();
    await row.getByRole('button', { name: 'Pause Second failing partner' }).waitFor();
    expect((await api.get(`/webhooks/${id}`)).body.enabled).toBe(true);
    await eventually(async () => ((await mark.count()) === 0 ? true : undefined), {
      what: 'the disabled mark to go',
    });
  });

  test('a range resend asks first, naming the range, and only then queues the job', async () => {
    await page.goto(`${local.url}/console/#/history?webhookId=${pausedId}&status=WAITING`);
    await page.getByRole('heading', { level: 1, name: 'History' }).waitFor();
    await page.getByRole('button', { name: 'Resend range' }).click();
    const confirm = page.getByRole('group', { name: 'Confirm range resend' });
    await hasText(confirm, 'Resend every WAITING notification of Paused partner');
    expect(await page.getByTestId('job-progress').count()).toBe(0);

    await confirm.getByRole('button', { name: 'Cancel' }).click();
    expect(await confirm.count()).toBe(0);
    expect(await page.getByTestId('job-progress').count()).toBe(0);

    // The confirm takes the keyboard as it appears, in the same task as the click, not at the
    // next frame: a key pressed right after the click lands on "Resend them".
    const focusedAfterClick = await page.evaluate(`(async () => {
      const range = [...document.querySelectorAll('button')].find(
        (b) => b.textContent.trim() === 'Resend range',
      );
      range.click();
      await Promise.resolve();
      return document.activeElement?.textContent;
    })()`);
    expect(focusedAfterClick).toBe('Resend them');
    await page.keyboard.press('Enter');
    await hasText(page.getByTestId('job-progress'), `of ${PAUSED_COUNT} done`);
  });

  test('going from #/ to #/overview reads the overview again', async () => {
    const id = await createWebhook('Overview partner', `${healthy.url}/overview`);
    await page.goto(`${local.url}/console/#/webhooks`);
    await page.goto(`${local.url}/console/#/`);
    const chart = page.getByRole('img', { name: /Last 24 hours/ });
    await chart.waitFor();
    const sent = Number(/: (\d+) sent,/.exec((await chart.getAttribute('aria-label')) ?? '')?.[1]);
    expect(Number.isInteger(sent)).toBe(true);

    await publish('Overview partner', 2);
    await eventually(
      async () => {
        const res = await api.get(`/notifications?webhookId=${id}&status=SENT`);
        return res.body.items.length === 2 ? true : undefined;
      },
      { what: 'two notifications sent' },
    );
    await page.evaluate('location.hash = "#/overview"');
    await hasAttr(chart, 'aria-label', `: ${sent + 2} sent,`);
  });
});
