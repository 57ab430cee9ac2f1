import { defineConfig } from 'vite';

// Served under /console/ both by local mode and by CloudFront; everything else is static.
export default defineConfig({
  root: import.meta.dirname,
  base: '/console/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // The bench reads the file sizes; keep names stable-but-hashed, no source maps shipped.
    sourcemap: false,
  },
});
