/**
 * A Lambda bundled by esbuild with the options lib/constructs/handler-function.ts gives the
 * CDK (platform node, target node22, CommonJS, minified, external source map without sources
 * content, everything bundled including the AWS SDK from its module builds), without a synth.
 */
import * as path from 'node:path';
import { type BuildOptions, build, type Metafile } from 'esbuild';
import { BUNDLE_MAIN_FIELDS, PROJECT_ROOT } from '../../lib/constructs/handler-function';

export const CDK_BUNDLING: BuildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  mainFields: BUNDLE_MAIN_FIELDS,
  external: [],
  logLevel: 'error',
  metafile: true,
};

/** Bundles `entry` (default: the entry point lambdas/functions/<name>.ts) into outfile. */
export async function bundleLambda(
  name: string,
  outfile: string,
  entry = path.join(PROJECT_ROOT, 'lambdas', 'functions', `${name}.ts`),
): Promise<Metafile> {
  const result = await build({
    ...CDK_BUNDLING,
    entryPoints: [entry],
    outfile,
    absWorkingDir: PROJECT_ROOT,
  });
  if (!result.metafile) throw new Error(`esbuild gave no metafile for ${name}`);
  return result.metafile;
}
