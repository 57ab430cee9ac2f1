/**
 * `npm run demo`: starts local mode in-process and a demo receiver on 127.0.0.1, registers a
 * signed webhook to the receiver, publishes one event, prints the request the receiver got
 * (signature checked with the `standardwebhooks` library) and the history entry, then stops
 * everything. State goes to a temporary directory unless DATA_DIR is set.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../lambdas/config';
import { PortInUseError } from './api-server';
import { type Platform, platformOptionsFromEnv, startPlatform } from './platform';

process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function startDemoReceiver(): Promise<{
  url: string;
  received: Promise<Received>;
  close: () => Promise<void>;
}> {
  let deliver!: (r: Received) => void;
  const received = new Promise<Received>((resolve) => {
    deliver = resolve;
  });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      deliver({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"received":true}');
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        received,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

// biome-ignore lint/suspicious/noExplicitAny: API answers are printed, and read field by field
type Json = any;

async function call(
  platform: Platform,
  method: string,
  pathname: string,
  body?: unknown,
): Promise<{ status: number; json: Json }> {
  const res = await fetch(`${platform.url}${pathname}`, {
    method,
    headers: {
      authorization: `Bearer ${platform.token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  const json = text ? JSON.parse(text) : undefined;
  if (res.status >= 400) throw new Error(`${method} ${pathname} answered ${res.status}: ${text}`);
  return { status: res.status, json };
}

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  seconds = 30,
): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const step = (text: string) => process.stdout.write(`\n== ${text}\n`);
const show = (value: unknown) =>
  process.stdout.write(`${typeof value === 'string' ? value : JSON.stringify(value, null, 2)}\n`);

async function main(): Promise<void> {
  const fromEnv = platformOptionsFromEnv(process.env);
  const tempDir =
    fromEnv.dataDir === undefined
      ? fs.mkdtempSync(path.join(os.tmpdir(), 'webhooks-demo-'))
      : undefined;
  const receiver = await startDemoReceiver();
  let platform: Platform | undefined;
  try {
    step('Starting local mode');
    const started = await startPlatform({
      ...fromEnv,
      // Any free port unless PORT is set, so the demo runs next to `npm start`.
      port: fromEnv.port ?? 0,
      ...(tempDir ? { dataDir: tempDir } : {}),
      handlerEnv: { DEFINITION_CACHE_TTL_SECONDS: '0', ...fromEnv.handlerEnv },
    });
    platform = started;
    show(
      `API ${platform.url} (ready in ${(platform.startMs / 1000).toFixed(1)} s), demo receiver ${receiver.url}`,
    );

    step('Registering a webhook (POST /webhooks)');
    const signingSecret = `whsec_${randomBytes(32).toString('base64')}`;
    const hook = await call(platform, 'POST', '/webhooks', {
      name: 'Loan disbursed to the demo ledger',
      events: ['LOAN_DISBURSEMENT'],
      enabled: true,
      method: 'POST',
      url: `${receiver.url}/loans/{{ data.loanId }}`,
      contentType: 'application/json',
      headers: { 'X-Branch': '{{ data.branch }}' },
      body: '{"loan": {{ data.loanId | json }}, "amount": {{ data.amount }}, "event": {{ event.id | json }}}',
      signingSecret,
    });
    show(hook.json);

    step('Publishing an event (POST /events)');
    const event = {
      type: 'LOAN_DISBURSEMENT',
      data: { loanId: 'L-1001', amount: 2500, branch: 'north' },
    };
    show(event);
    const accepted = await call(platform, 'POST', '/events', event);
    show(`${accepted.status} ${JSON.stringify(accepted.json)}`);

    step('The demo receiver got');
    const request = await Promise.race([
      receiver.received,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('no delivery within 30 s')), 30_000).unref(),
      ),
    ]);
    show(`${request.method} ${request.url}`);
    for (const name of [
      'content-type',
      'x-branch',
      'webhook-id',
      'webhook-timestamp',
      'webhook-signature',
    ]) {
      show(`${name}: ${String(request.headers[name])}`);
    }
    show('');
    show(request.body);
    const { Webhook } = await import('standardwebhooks');
    new Webhook(signingSecret).verify(request.body, request.headers as Record<string, string>);
    show('(signature verified with the standardwebhooks library)');

    step('Its history entry (GET /notifications/{id})');
    const notificationId = String(request.headers['webhook-id']);
    const entry = await waitFor('the notification to be SENT', async () => {
      // The record is written once the receiver has answered, so a 404 just before is expected.
      const res = await call(
        started,
        'GET',
        `/notifications/${encodeURIComponent(notificationId)}`,
      ).catch((err: Error) =>
        / answered 404:/.test(err.message) ? undefined : Promise.reject(err),
      );
      return res?.json.status === 'SENT' ? res.json : undefined;
    });
    show(entry);
  } finally {
    step('Stopping');
    await receiver.close();
    await platform?.stop();
    if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
    show('done.');
  }
}

main().catch((err: unknown) => {
  const known = err instanceof PortInUseError || err instanceof ConfigError;
  process.stderr.write(
    `error: ${known ? (err as Error).message : ((err as Error)?.stack ?? String(err))}\n`,
  );
  process.exitCode = 1;
});
