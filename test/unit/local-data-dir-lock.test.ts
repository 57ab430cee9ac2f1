/**
 * One platform per DATA_DIR (`DATA_DIR/platform.lock`): a platform that runs keeps it, a lock
 * left by a process that is gone is taken over, and so is one whose pid now belongs to another
 * process (after a SIGKILL, a reboot or a container restart the old pid is often reused).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../lambdas/config';
import { lockDataDir, startPlatform } from '../../local/platform';
import { eventually } from '../support/eventually';

const ROOT = path.resolve(__dirname, '../..');

describe('the DATA_DIR lock of local mode', () => {
  let dir: string;
  let lockFile: string;
  const children: ChildProcess[] = [];

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webhooks-lock-'));
    lockFile = path.join(dir, 'platform.lock');
  });

  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Another process that takes the lock the way a platform does, and keeps running. */
  async function otherPlatformHolding(dataDir: string): Promise<ChildProcess> {
    const child = spawn(
      process.execPath,
      [
        '-r',
        './local/register.js',
        '-e',
        `require('./local/platform').lockDataDir(${JSON.stringify(dataDir)}); setInterval(() => {}, 1000);`,
      ],
      { cwd: ROOT, stdio: 'ignore' },
    );
    children.push(child);
    await eventually(
      async () =>
        fs.existsSync(lockFile) && fs.readFileSync(lockFile, 'utf8').startsWith(`${child.pid}\n`)
          ? true
          : undefined,
      { what: 'the other process to take the lock' },
    );
    return child;
  }

  it('refuses a DATA_DIR whose lock another running platform holds, naming its pid', async () => {
    const other = await otherPlatformHolding(dir);

    const lock = () => lockDataDir(dir);

    expect(lock).toThrow(ConfigError);
    expect(lock).toThrow(`in use by another running platform (pid ${other.pid})`);
  });

  it('refuses a second platform in the same process while the first holds the lock', () => {
    const release = lockDataDir(dir);

    expect(() => lockDataDir(dir)).toThrow(ConfigError);
    release();
    const again = lockDataDir(dir);
    again();
  });

  it('takes over a lock whose process is gone, and removes its own on release', async () => {
    const other = await otherPlatformHolding(dir);
    const exited = new Promise((resolve) => other.once('exit', resolve));
    other.kill('SIGKILL');
    await exited;

    const release = lockDataDir(dir);
    const held = fs.readFileSync(lockFile, 'utf8');
    release();

    expect(held.startsWith(`${process.pid}\n`)).toBe(true);
    expect(fs.existsSync(lockFile)).toBe(false);
  });

  it('takes over a lock whose pid now belongs to another process that started later', () => {
    // The parent (the test runner) runs, but it is not the process that wrote this lock.
    fs.writeFileSync(lockFile, `${process.ppid}\n1\n`);

    const release = lockDataDir(dir);
    const held = fs.readFileSync(lockFile, 'utf8');
    release();

    expect(held.startsWith(`${process.pid}\n`)).toBe(true);
  });

  it('takes over a lock holding its own pid, left by an earlier process that had that pid', () => {
    // A container restart often gives the platform the same pid as before.
    fs.writeFileSync(lockFile, `${process.pid}\n`);

    const release = lockDataDir(dir);
    release();

    expect(fs.existsSync(lockFile)).toBe(false);
  });

  it('does not remove a lock another platform took over meanwhile', () => {
    const release = lockDataDir(dir);
    fs.writeFileSync(lockFile, `${process.ppid}\n`);

    release();

    expect(fs.readFileSync(lockFile, 'utf8')).toBe(`${process.ppid}\n`);
  });
});

describe('a DATA_DIR local mode cannot use', () => {
  let dir: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webhooks-datadir-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['a file', (d: string) => path.join(d, 'file')],
    ['under a file', (d: string) => path.join(d, 'file', 'sub')],
  ])('is refused when it is %s, naming DATA_DIR, before anything starts', async (_, where) => {
    fs.writeFileSync(path.join(dir, 'file'), '');
    const dataDir = where(dir);

    const starting = startPlatform({ dataDir, port: 0, log: () => {} });

    await expect(starting).rejects.toThrow(ConfigError);
    await expect(starting).rejects.toThrow(`DATA_DIR ${dataDir} cannot be used`);
  });
});
