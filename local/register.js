// Runs the TypeScript sources directly under Node (npm start, demo, bench) by transpiling
// each .ts file with esbuild on require. Type-checking is `npm run build`'s job.
const fs = require('node:fs');
const { transformSync } = require('esbuild');

require.extensions['.ts'] = function compileTs(module, filename) {
  const source = fs.readFileSync(filename, 'utf8');
  const { code } = transformSync(source, {
    loader: 'ts',
    format: 'cjs',
    target: 'node22',
    sourcemap: 'inline',
    sourcefile: filename,
  });
  module._compile(code, filename);
};
