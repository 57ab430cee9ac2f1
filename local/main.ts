/**
 * `npm start`: the whole platform on this machine (see local/platform.ts), serving until
 * SIGINT or SIGTERM, then stopping everything it started.
 */
import { ConfigError } from '../lambdas/config';
import { PortInUseError } from './api-server';
import { type Platform, platformOptionsFromEnv, startPlatform } from './platform';

// EMF metrics have no CloudWatch to go to locally; logs stay on (JSON, one line per event).
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';

async function main(): Promise<void> {
  const options = platformOptionsFromEnv(process.env);
  let platform: Platform | undefined;
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\n${signal}: stopping...\n`);
    // A second signal while stopping exits at once (the stand-ins' host still stops Java).
    const force = () => process.exit(130);
    process.once('SIGINT', force);
    process.once('SIGTERM', force);
    (platform?.stop() ?? Promise.resolve()).then(
      () => {
        process.stderr.write('stopped.\n');
        process.exit(0);
      },
      (err) => {
        process.stderr.write(`error while stopping: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
  process.once('SIGHUP', shutdown);
  // `npm start` runs us under `sh -c`: a SIGTERM to npm ends the shell, not us. Being orphaned
  // (the parent gone) means whoever started us has stopped, so stop too.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) shutdown('SIGHUP');
  }, 500).unref();

  platform = await startPlatform(options);
  if (stopping) {
    // A signal arrived while starting: shutdown() ran before the platform existed.
    await platform.stop();
    process.exit(0);
  }
  const { url, token } = platform;
  const lines = [
    '',
    `Webhook platform (local mode) ready in ${(platform.startMs / 1000).toFixed(1)} s`,
    `  Console:  ${url}/console/   (sign in with the token below)`,
    `  API:      ${url}`,
    `  Token:    ${token}${platform.tokenGenerated ? '   (generated; set API_TOKEN to choose one)' : ''}`,
    `  Data:     ${platform.dataDir}`,
  ];
  if (platform.deliveryPaused)
    lines.push('  Delivery: PAUSED (LOCAL_PAUSE_DELIVERY): events are accepted and kept, not sent');
  const { queuedMessages, retryExecutions, healthDrivers } = platform.recovered;
  if (queuedMessages > 0 || retryExecutions > 0 || healthDrivers > 0) {
    lines.push(
      `  Resumed:  ${queuedMessages} queued deliveries, ${retryExecutions} retry executions, ${healthDrivers} health drivers`,
    );
  }
  lines.push(
    '',
    'Try:',
    `  curl -s ${url}/health`,
    `  curl -s -X POST ${url}/events -H "Authorization: Bearer ${token}" -H "Content-Type: application/json" \\`,
    `       -d '{"type":"LOAN_DISBURSEMENT","data":{"loanId":"L-1","amount":1000}}'`,
    `  curl -s ${url}/webhooks -H "Authorization: Bearer ${token}"`,
    '',
    'Ctrl+C stops everything.',
    '',
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  // Expected failures (a taken port, a bad switch) get one line; anything else its stack.
  if (err instanceof PortInUseError || err instanceof ConfigError) {
    process.stderr.write(`error: ${err.message}\n`);
  } else if (/spawn java ENOENT/.test(String((err as Error)?.message))) {
    process.stderr.write(
      'error: local mode needs Java 17 or newer on PATH (DynamoDB Local runs on it).\n',
    );
  } else {
    process.stderr.write(
      `error: local mode failed to start: ${(err as Error)?.stack ?? String(err)}\n`,
    );
  }
  process.exit(1);
});
