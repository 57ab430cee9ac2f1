/**
 * The operator console's bundle: what a browser downloads on the first visit (index.html, the
 * script, the stylesheet), raw and gzip-compressed (level 9, as CloudFront and most servers
 * send it). Built fresh with the project's Vite config into a temp folder. Sizes do not depend
 * on the machine; beside them stands the floor any Preact page pays: a one-component page with
 * a hook, built by the same Vite with the same settings.
 */
import { execFileSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { required } from '../lambdas/core/required';
import type { Benchmark, Row } from './support/types';

const ROOT = path.resolve(__dirname, '..');
/** Goal for everything a first visit downloads, gzip. */
const GOAL_GZIP_KIB = 50;

const kib = (n: number) => Math.round((n / 1024) * 10) / 10;
const gz = (b: Buffer) => gzipSync(b, { level: 9 }).length;

function vite(args: string[]): void {
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules/vite/bin/vite.js'), ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/** Gzip bytes of the smallest Preact page with a hook, built like the console. */
function floorGzip(): number {
  const dir = path.join(ROOT, 'bench/.tmp/console-floor');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'index.html'),
    '<!doctype html><div id="app"></div><script type="module" src="./main.jsx"></script>',
  );
  writeFileSync(
    path.join(dir, 'main.jsx'),
    "import { render } from 'preact';\nimport { useState } from 'preact/hooks';\nfunction App() { const [n, set] = useState(0); return <button onClick={() => set(n + 1)}>{n}</button>; }\nrender(<App />, document.getElementById('app'));\n",
  );
  writeFileSync(
    path.join(dir, 'vite.config.mjs'),
    "export default { root: import.meta.dirname, base: './', logLevel: 'warn', oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } }, build: { target: 'es2022', outDir: 'dist' } };\n",
  );
  try {
    vite(['build', '--config', path.join(dir, 'vite.config.mjs')]);
    return files(path.join(dir, 'dist'))
      .filter((f) => /\.(js|css|html)$/.test(f))
      .reduce((sum, f) => sum + gz(readFileSync(f)), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

export const consoleBundleBenchmark: Benchmark = {
  name: 'console',
  title: 'Operator console bundle (Vite production build): raw and gzip KiB',
  async run({ log }) {
    const out = mkdtempSync(path.join(os.tmpdir(), 'console-bench-'));
    try {
      const t0 = Date.now();
      vite([
        'build',
        '--config',
        path.join(ROOT, 'console/vite.config.mjs'),
        '--outDir',
        out,
        '--emptyOutDir',
        '--logLevel',
        'warn',
      ]);
      const buildMs = Date.now() - t0;
      const sizes = { js: [0, 0], css: [0, 0], html: [0, 0] } as Record<string, [number, number]>;
      for (const f of files(out)) {
        const kind = path.extname(f).slice(1);
        const s = sizes[kind];
        if (!s) continue;
        const body = readFileSync(f);
        s[0] += body.length;
        s[1] += gz(body);
      }
      const total: [number, number] = [0, 0];
      for (const [raw, zipped] of Object.values(sizes)) {
        total[0] += raw;
        total[1] += zipped;
      }
      const floor = floorGzip();
      log(`built in ${buildMs} ms`);
      const figures: Record<string, number> = {
        'consoleKiB.jsRaw': kib(required(sizes.js, 'sizes.js')[0]),
        'consoleKiB.jsGzip': kib(required(sizes.js, 'sizes.js')[1]),
        'consoleKiB.cssGzip': kib(required(sizes.css, 'sizes.css')[1]),
        'consoleKiB.totalRaw': kib(total[0]),
        'consoleKiB.totalGzip': kib(total[1]),
      };
      const rows: Row[] = [
        {
          label: 'console script, raw',
          key: 'consoleKiB.jsRaw',
          value: kib(required(sizes.js, 'sizes.js')[0]),
          unit: 'KiB',
        },
        {
          label: 'console script, gzip',
          key: 'consoleKiB.jsGzip',
          value: kib(required(sizes.js, 'sizes.js')[1]),
          unit: 'KiB',
        },
        {
          label: 'console stylesheet, gzip',
          key: 'consoleKiB.cssGzip',
          value: kib(required(sizes.css, 'sizes.css')[1]),
          unit: 'KiB',
        },
        {
          label: 'console first visit, raw',
          key: 'consoleKiB.totalRaw',
          value: kib(total[0]),
          unit: 'KiB',
        },
        {
          label: 'console first visit, gzip',
          key: 'consoleKiB.totalGzip',
          value: kib(total[1]),
          unit: 'KiB',
          reference: `a one-button Preact page ${kib(floor)} KiB gzip`,
          goal: `<= ${GOAL_GZIP_KIB} KiB`,
          met: kib(total[1]) <= GOAL_GZIP_KIB,
        },
      ];
      return {
        figures,
        rows,
        details: { sizes, total, preactFloorGzip: floor, buildMs },
        notes: [],
      };
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  },
};
