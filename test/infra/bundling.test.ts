import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { builtinModules } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { FUNCTION_ENV } from '../support/function-env';
import { type Built, buildStack, logicalId, propsOf } from './support';

// The one infrastructure test that runs esbuild for real, for all five Lambdas.
let outdir: string;
let built: Built;

beforeAll(() => {
  outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'webhooks-bundling-'));
  built = buildStack({}, { bundle: true, outdir });
});

afterAll(() => {
  fs.rmSync(outdir, { recursive: true, force: true });
});

const FUNCTIONS = ['ingest', 'api', 'delivery', 'attempt', 'sweeper'] as const;

function bundleOf(name: (typeof FUNCTIONS)[number]): { code: string; dir: string } {
  const { stack } = built;
  const fn = {
    ingest: stack.api.ingestFunction,
    api: stack.api.apiFunction,
    delivery: stack.delivery.deliveryFunction,
    attempt: stack.delivery.attemptFunction,
    sweeper: stack.retrySweeper.function,
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
        env: { PATH: process.env.PATH, ...FUNCTION_ENV },
        encoding: 'utf8',
      });
      expect(result.stderr).not.toContain('Cannot find module');
      expect(result.stdout).toBe('function');
    } finally {
      fs.rmSync(alone, { recursive: true, force: true });
    }
  });
});

/** Packages of a bundle, from its source map (node_modules/<package>/...). */
function packagesOf(name: (typeof FUNCTIONS)[number]): Set<string> {
  const { dir } = bundleOf(name);
  const map = JSON.parse(fs.readFileSync(path.join(dir, 'index.js.map'), 'utf8')) as {
    sources: string[];
  };
  const packages = new Set<string>();
  for (const source of map.sources) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(source);
    if (m?.[1]) packages.add(m[1]);
  }
  return packages;
}

describe('each bundle holds only what its handler calls', () => {
  it.each([
    ['ingest', ['liquidjs', '@aws-sdk/client-sfn', 'undici']],
    ['api', ['@aws-sdk/client-sfn', 'undici']],
    ['attempt', ['liquidjs']],
    ['sweeper', ['liquidjs', 'undici', '@aws-sdk/client-sqs', '@aws-sdk/client-kms']],
  ] as const)('the %s bundle has none of %j', (name, absent) => {
    const packages = packagesOf(name);
    expect(packages.has('@aws-sdk/client-dynamodb')).toBe(true);
    expect(absent.filter((p) => packages.has(p))).toEqual([]);
  });

  it('the delivery bundle renders (liquidjs) and schedules retries (client-sfn)', () => {
    const packages = packagesOf('delivery');
    expect(packages.has('liquidjs')).toBe(true);
    expect(packages.has('@aws-sdk/client-sfn')).toBe(true);
  });
});
