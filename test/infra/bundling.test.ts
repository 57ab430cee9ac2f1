import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { builtinModules } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Built, buildStack, logicalId, propsOf } from './support';

// The one infrastructure test that runs esbuild for real, for all four Lambdas.
let outdir: string;
let built: Built;

beforeAll(() => {
  outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'webhooks-bundling-'));
  built = buildStack({}, { bundle: true, outdir });
});

afterAll(() => {
  fs.rmSync(outdir, { recursive: true, force: true });
});

const FUNCTIONS = ['ingest', 'api', 'delivery', 'attempt'] as const;

function bundleOf(name: (typeof FUNCTIONS)[number]): { code: string; dir: string } {
  const { stack } = built;
  const fn = {
    ingest: stack.api.ingestFunction,
    api: stack.api.apiFunction,
    delivery: stack.delivery.deliveryFunction,
    attempt: stack.delivery.attemptFunction,
  }[name];
  const key = (propsOf(built, logicalId(fn)).Code as { S3Key: string }).S3Key;
  const dir = path.join(outdir, `asset.${key.replace(/\.zip$/, '')}`);
  return { code: fs.readFileSync(path.join(dir, 'index.js'), 'utf8'), dir };
}

describe.each(FUNCTIONS)('the %s bundle', (name) => {
  it('exists with a source map and is minified', () => {
    const { code, dir } = bundleOf(name);
    expect(fs.existsSync(path.join(dir, 'index.js.map'))).toBe(true);
    expect(/\/\/# sourceMappingURL=index\.js\.map\s*$/.test(code)).toBe(true);
    // Minified output: a megabyte in a few dozen lines (only multi-line strings break lines).
    expect(code.length / code.split('\n').length).toBeGreaterThan(1000);
    expect(/^\s*\/\*\*\s*$/m.test(code)).toBe(false);
  });

  it('requires nothing but Node.js built-ins: the AWS SDK and every dependency are bundled', () => {
    const { code } = bundleOf(name);
    // `[require("...")]` occurs inside the SDK's own error messages, not as code.
    const required = [...code.matchAll(/(?<!\[)\brequire\(\s*"([^"]+)"\s*\)/g)].map((m) => m[1]!);
    const external = required.filter((m) => !m.startsWith('node:') && !builtinModules.includes(m));
    expect(external).toEqual([]);
    // The DynamoDB client itself is inside (its JSON protocol target prefix).
    expect(code.includes('DynamoDB_20120810')).toBe(true);
  });

  it('loads on its own, with no node_modules anywhere near it', () => {
    const { code } = bundleOf(name);
    const alone = fs.mkdtempSync(path.join(os.tmpdir(), `webhooks-${name}-`));
    try {
      fs.writeFileSync(path.join(alone, 'index.js'), code);
      const probe = "const m = require('./index.js'); process.stdout.write(typeof m.handler)";
      const result = spawnSync(process.execPath, ['-e', probe], {
        cwd: alone,
        env: { PATH: process.env.PATH, AWS_REGION: 'eu-central-1' },
        encoding: 'utf8',
      });
      expect(result.stderr).not.toContain('Cannot find module');
      expect(result.stdout).toBe('function');
    } finally {
      fs.rmSync(alone, { recursive: true, force: true });
    }
  });
});
