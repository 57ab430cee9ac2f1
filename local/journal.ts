/**
 * An append-only JSON-lines file: the durability primitive of local mode. Every record is
 * written with one synchronous append, so once the call returns it sits in the OS page cache
 * and survives the process being killed (SIGKILL included); it does not survive a power loss
 * (no fsync per record: local mode trades that for throughput).
 */
import fs from 'node:fs';
import path from 'node:path';

export class Journal<T> {
  private lines = 0;

  constructor(readonly file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
  }

  /** Every complete record in file order. A torn last line (killed mid-write) is skipped. */
  read(): T[] {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const records: T[] = [];
    for (const line of text.split('\n')) {
      if (line.length === 0) continue;
      try {
        records.push(JSON.parse(line) as T);
      } catch {
        // A partial line left by a kill in the middle of a write: the write never completed.
      }
    }
    this.lines = records.length;
    return records;
  }

  append(records: T | readonly T[]): void {
    const list = Array.isArray(records) ? (records as readonly T[]) : [records as T];
    if (list.length === 0) return;
    fs.appendFileSync(this.file, list.map((r) => `${JSON.stringify(r)}\n`).join(''));
    this.lines += list.length;
  }

  /** Replaces the whole file atomically (write to a temporary file, then rename over it). */
  rewrite(records: readonly T[]): void {
    const tmp = `${this.file}.tmp`;
    fs.writeFileSync(tmp, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
    fs.renameSync(tmp, this.file);
    this.lines = records.length;
  }

  /** Records written since the last read or rewrite, plus the ones read or rewritten. */
  get size(): number {
    return this.lines;
  }
}
