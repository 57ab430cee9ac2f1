/**
 * Local mode (local/platform.ts startPlatform) in its own process for the end-to-end benchmark,
 * so the producer and the timing in the bench process do not share its event loop. argv[2] is
 * a JSON PlatformOptions. Reports {type:'ready', url, token, pids} over IPC; stops everything
 * it started on SIGTERM, SIGINT or when the parent goes away (stdin closes).
 */
import { startPlatform } from '../../local/platform';

// As `npm start` does: EMF metrics have nowhere to go locally.
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}');
  const platform = await startPlatform({
    ...options,
    log: (m: string) => process.stderr.write(`${m}\n`),
  });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    platform.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();
  process.send?.({
    type: 'ready',
    url: platform.url,
    token: platform.token,
    pids: platform.pids,
    startMs: platform.startMs,
  });
}

main().catch((err) => {
  process.stderr.write(`platform failed to start: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
