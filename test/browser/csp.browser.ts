/**
 * The console's two content security policies on AWS, in Chromium: the built index.html with the
 * meta policy the stack's deployment writes (the same function, a loopback origin in place of the
 * API's), served with the header policy CloudFront adds (a loopback port wildcard in place of the
 * region's execute-api hosts). The console still starts under both; a request to the named API
 * origin goes through, one to another loopback port is refused by the browser before it leaves;
 * without the meta policy the header alone lets that second request through.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { CONSOLE_DIST } from '../../lib/constructs/console';
import { consoleCsp, withConsoleCspMeta } from '../../lib/constructs/console-csp';
import { eventually } from '../support/eventually';
import { ok, type Receiver, type ReceiverReply, startReceiver } from '../support/receivers';
import { type Browser, launchBrowser } from './support';

interface Violation {
  directive: string;
  blocked: string;
}

/** Set in every document before its own scripts run. */
const RECORD_VIOLATIONS = `window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__violations.push({ directive: e.effectiveDirective, blocked: e.blockedURI });
});`;

// Named in the policies as on AWS, never called: the console signs in with a token here.
const COGNITO = {
  cognitoIdp: 'https://cognito-idp.eu-central-1.amazonaws.com',
  cognitoIdentity: 'https://cognito-identity.eu-central-1.amazonaws.com',
};

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

let browser: Browser;
let page: Page;
let site: Receiver;
let api: Receiver;
let other: Receiver;
let withMeta: string;
let consoleMessages: string[];

beforeAll(async () => {
  const cors = { 'access-control-allow-origin': '*', 'content-type': 'application/json' };
  api = await startReceiver(ok('{"api":true}', cors));
  other = await startReceiver(ok('{"other":true}', cors));
  const built = fs.readFileSync(path.join(CONSOLE_DIST, 'index.html'), 'utf8');
  withMeta = withConsoleCspMeta(built, { ...COGNITO, api: api.url });
  const header = consoleCsp({ ...COGNITO, api: 'http://127.0.0.1:*' }, 'header');
  // /console/ as deployed (with the meta policy), /console/?meta=0 as built; both with the header.
  site = await startReceiver((req): ReceiverReply => {
    const url = new URL(req.url, 'http://127.0.0.1');
    const headers = { 'content-security-policy': header, 'cache-control': 'no-store' };
    if (url.pathname === '/console/') {
      const body = url.searchParams.get('meta') === '0' ? built : withMeta;
      return { status: 200, headers: { ...headers, 'content-type': 'text/html' }, body };
    }
    if (url.pathname === '/console/config.json')
      return { status: 200, headers: { ...headers, ...cors }, body: '{"mode":"token"}' };
    const file = path.join(CONSOLE_DIST, url.pathname.replace(/^\/console\//, ''));
    if (url.pathname.startsWith('/console/assets/') && fs.existsSync(file)) {
      const type = TYPES[path.extname(file)] ?? 'application/octet-stream';
      const body = fs.readFileSync(file, 'utf8');
      return { status: 200, headers: { ...headers, 'content-type': type }, body };
    }
    return { status: 404, headers, body: 'Not Found' };
  });
  browser = await launchBrowser();
  await browser.context.addInitScript(RECORD_VIOLATIONS);
  page = browser.context.pages()[0] ?? (await browser.context.newPage());
  consoleMessages = [];
  page.on('console', (m) => consoleMessages.push(`${m.type()}: ${m.text()}`));
});

afterAll(async () => {
  await browser?.close();
  await Promise.all([site, api, other].map((r) => r?.close().catch(() => undefined)));
});

/** fetch() from the page: the response's status, or the error it rejected with. */
const fetchFromPage = (url: string) =>
  page.evaluate(async (u) => {
    try {
      return { status: (await fetch(u)).status };
    } catch (err) {
      return { error: String(err) };
    }
  }, url);

const violations = () => page.evaluate('window.__violations') as Promise<Violation[]>;

describe("the console's meta content security policy in Chromium", () => {
  test('starts the console under both policies, with no policy complaint', async () => {
    expect(withMeta).toContain(`connect-src 'self' ${COGNITO.cognitoIdp}`);
    await page.goto(`${site.url}/console/`);
    // The console's own script and style load and run: its sign-in form appears.
    await page.getByLabel('API token').waitFor();
    expect(await violations()).toEqual([]);
    expect(consoleMessages.filter((m) => /content.security.policy/i.test(m))).toEqual([]);
  });

  test('lets a request to the named API origin through', async () => {
    const before = api.requests.length;
    expect(await fetchFromPage(`${api.url}/webhooks`)).toEqual({ status: 200 });
    expect(api.requests.length).toBe(before + 1);
    expect(api.requests.at(-1)!.url).toBe('/webhooks');
    expect(await violations()).toEqual([]);
  });

  test('refuses a request to another loopback port before it is sent, as a connect-src violation', async () => {
    const result = await fetchFromPage(`${other.url}/exfiltrate`);
    expect(result).toMatchObject({ error: expect.stringContaining('TypeError') });
    const seen = await eventually(
      async () => {
        const v = await violations();
        return v.length > 0 ? v : undefined;
      },
      { what: 'a securitypolicyviolation event' },
    );
    expect(seen).toEqual([{ directive: 'connect-src', blocked: `${other.url}/exfiltrate` }]);
    expect(other.requests).toEqual([]);
  });

  test('lets that request through without the meta policy: the header alone allows any port', async () => {
    await page.goto(`${site.url}/console/?meta=0`);
    await page.getByLabel('API token').waitFor();
    expect(await page.locator('meta[http-equiv]').count()).toBe(0);
    expect(await fetchFromPage(`${other.url}/exfiltrate`)).toEqual({ status: 200 });
    expect(other.requests.map((r) => r.url)).toEqual(['/exfiltrate']);
    expect(await violations()).toEqual([]);
  });
});
