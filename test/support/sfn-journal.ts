import fs from 'node:fs';
import path from 'node:path';

/**
 * Names of the executions the local Step Functions endpoint started under `dataDir`, from its
 * journals (one per state machine), in the order they started.
 */
export function executionsStarted(dataDir: string): string[] {
  if (!fs.existsSync(dataDir)) return [];
  return fs
    .readdirSync(dataDir)
    .filter((file) => /^sfn-executions-.*\.jsonl$/.test(file))
    .flatMap((file) => fs.readFileSync(path.join(dataDir, file), 'utf8').split('\n'))
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as { t: string; name: string; startDate: number })
    .filter((r) => r.t === 'start')
    .sort((a, b) => a.startDate - b.startDate)
    .map((r) => r.name);
}
