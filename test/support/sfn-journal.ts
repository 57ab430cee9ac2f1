import fs from 'node:fs';
import path from 'node:path';

/**
 * Names of the executions the local Step Functions endpoint started under `dataDir`, from its
 * journals (one per state machine), in the order they started.
 */
export function executionsStarted(dataDir: string): string[] {
  return journal(dataDir)
    .filter((r) => r.t === 'start')
    .sort((a, b) => (a.startDate ?? 0) - (b.startDate ?? 0))
    .map((r) => r.name);
}

/** Names of the executions that ended (succeeded, failed, stopped) under `dataDir`. */
export function executionsEnded(dataDir: string): string[] {
  return journal(dataDir)
    .filter((r) => r.t === 'end')
    .map((r) => r.name);
}

function journal(dataDir: string): { t: string; name: string; startDate?: number }[] {
  if (!fs.existsSync(dataDir)) return [];
  return fs
    .readdirSync(dataDir)
    .filter((file) => /^sfn-executions-.*\.jsonl$/.test(file))
    .flatMap((file) => fs.readFileSync(path.join(dataDir, file), 'utf8').split('\n'))
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as { t: string; name: string; startDate?: number });
}
