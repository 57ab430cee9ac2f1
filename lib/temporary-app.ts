import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { App, type AppProps } from 'aws-cdk-lib';

/**
 * Runs `use` on a CDK App whose cloud assembly goes to a temporary folder, removed after. An App
 * makes that folder as it is created, synthesized or not; without an outdir it would be a new
 * folder in the system's temp dir that nothing removes.
 */
export function withTemporaryApp<T>(props: AppProps, use: (app: App) => T): T {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'webhooks-app-'));
  try {
    return use(new App({ ...props, outdir }));
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}
