import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

/**
 * The analyst console. `npm run build:web` writes `web/dist/`, which `aisoc serve` serves at `/`
 * with the API on the same origin. Routes use the URL hash (`/#/alerts`), so no console path can
 * shadow an API path and the server needs no fallback rules.
 */
export default defineConfig({
  root,
  base: '/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    // The budget is checked by `npm run bench -- console`; a warning here is only a hint.
    chunkSizeWarningLimit: 600,
  },
  server: {
    // `npm run dev:web` proxies the API to a running `aisoc serve` on 8080.
    proxy: Object.fromEntries(
      [
        'alerts',
        'incidents',
        'cases',
        'actions',
        'events',
        'audit',
        'whoami',
        'stream',
        'stats',
        'coverage',
        'rules',
        'sources',
        'dead-letters',
        'pipeline',
        'attack',
        'playbooks',
        'playbook-runs',
        'suppressions',
      ].map((p) => [`/${p}`, 'http://127.0.0.1:8080']),
    ),
  },
});
