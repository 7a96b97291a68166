import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The console is built into dist/web, which the api process serves at / (src/http/web-console.ts).
// JSX is compiled by Vite's own transformer (React's automatic runtime); no framework plugin is needed
// for a production build.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    // One small bundle; no inline scripts or styles, so the page's CSP can forbid them.
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  logLevel: 'warn',
});
