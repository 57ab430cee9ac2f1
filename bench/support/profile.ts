/**
 * In-process CPU profile (node:inspector) of an async phase, summarised by self time per
 * function and per file, so a benchmark below its goal can say where the time goes. The full
 * .cpuprofile is written too (open it in Chrome DevTools or speedscope).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import * as os from 'node:os';
import * as path from 'node:path';
import { PROJECT_ROOT } from './processes';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileEntry {
  readonly where: string;
  readonly selfPct: number;
}

export interface ProfileSummary {
  readonly file: string;
  readonly totalMs: number;
  readonly topFunctions: ProfileEntry[];
  readonly topFiles: ProfileEntry[];
  /** Share of self time by area: project code, undici, node internals, GC, idle, other packages. */
  readonly byArea: Record<string, number>;
}

function post<T>(session: Session, method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) => {
    session.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result as T)));
  });
}

function shortUrl(url: string): string {
  const file = url.startsWith('file://') ? url.slice('file://'.length) : url;
  if (file === '') return '(native)';
  const nm = file.lastIndexOf('/node_modules/');
  if (nm >= 0) return file.slice(nm + '/node_modules/'.length);
  return file.startsWith(PROJECT_ROOT) ? path.relative(PROJECT_ROOT, file) : file;
}

function area(url: string, fn: string): string {
  if (fn === '(garbage collector)') return 'gc';
  if (fn === '(idle)' || fn === '(program)') return fn.slice(1, -1);
  if (url.startsWith('node:') || url === '') return 'node internals';
  const short = shortUrl(url);
  if (short.startsWith('undici/')) return 'undici';
  if (short.startsWith('lambdas/')) return short.split('/').slice(0, 2).join('/');
  if (short.startsWith('bench/')) return 'bench harness';
  return short.split('/')[0] ?? 'other';
}

export async function profileAsync<T>(
  name: string,
  run: () => Promise<T>,
): Promise<{ result: T; summary: ProfileSummary }> {
  const session = new Session();
  session.connect();
  try {
    await post(session, 'Profiler.enable');
    await post(session, 'Profiler.setSamplingInterval', { interval: 200 });
    await post(session, 'Profiler.start');
    const result = await run();
    const { profile } = await post<{ profile: CpuProfile }>(session, 'Profiler.stop');
    const file = path.join(os.tmpdir(), `bench-${name}-${Date.now()}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    return { result, summary: summarise(profile, file) };
  } finally {
    session.disconnect();
  }
}

export function summarise(profile: CpuProfile, file: string): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  // Samples under the inspector's own calls (stopping the profiler) are not the workload's.
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const profilerOwn = (id: number): boolean => {
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      if (byId.get(cur)?.callFrame.url === 'node:inspector') return true;
    }
    return false;
  };
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    if (!profilerOwn(id)) selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0) || 1;
  const fns = new Map<string, number>();
  const files = new Map<string, number>();
  const areas = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const fn = functionName || '(anonymous)';
    const where = url ? `${shortUrl(url)}:${fn}:${lineNumber + 1}` : fn;
    fns.set(where, (fns.get(where) ?? 0) + us);
    const f = url ? shortUrl(url) : fn;
    files.set(f, (files.get(f) ?? 0) + us);
    const a = area(url, fn);
    areas.set(a, (areas.get(a) ?? 0) + us);
  }
  const top = (m: Map<string, number>, n: number): ProfileEntry[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([where, us]) => ({ where, selfPct: Math.round((us / total) * 1000) / 10 }));
  return {
    file,
    totalMs: Math.round(total / 1000),
    topFunctions: top(fns, 20),
    topFiles: top(files, 12),
    byArea: Object.fromEntries(top(areas, 20).map((e) => [e.where, e.selfPct])),
  };
}
