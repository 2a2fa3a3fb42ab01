import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';
import { fileURLToPath } from 'node:url';

// The Kentra portal: built by `npm run build` into dist/portal and served by Kentra itself under /portal/
// (src/web/portal.ts). Two pages: the app (index.html) and msal-browser's redirect bridge (redirect.html).
// Everything is bundled: no CDN, nothing fetched at run time, no inline script (the CSP forbids it).
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  root: here('.'),
  base: '/portal/',
  publicDir: false,
  plugins: [preact({ prerender: { enabled: false } })],
  build: {
    outDir: here('../dist/portal'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    rolldownOptions: {
      input: { index: here('index.html'), redirect: here('redirect.html') },
      // No "slow plugin" report: on a busy machine it is noise in every test run's build.
      checks: { bundlerTimings: false },
    },
  },
  logLevel: 'warn',
});
