/** The machine a run happened on, printed with the table and stored in results.json. */
import { readFileSync } from 'node:fs';
import * as os from 'node:os';

export interface MachineInfo {
  readonly date: string;
  readonly nproc: number;
  readonly node: string;
  readonly cpuModel: string;
  readonly memGiB: number;
  readonly platform: string;
  /** 1, 5 and 15 minute load averages when the run started: other work on a shared machine. */
  readonly loadAvg: number[];
}

export function loadAverage(): number[] {
  return os.loadavg().map((l) => Math.round(l * 100) / 100);
}

export function machineInfo(): MachineInfo {
  let cpuModel = os.cpus()[0]?.model ?? 'unknown';
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) cpuModel = line.split(':').slice(1).join(':').trim();
  } catch {
    // not Linux: os.cpus() is good enough
  }
  return {
    date: new Date().toISOString(),
    nproc: os.availableParallelism(),
    node: process.version,
    cpuModel,
    memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    loadAvg: loadAverage(),
  };
}
