import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// Served by the Parley server at /console/ under a CSP without 'unsafe-inline' (docs/console.md): every script
// and style is a file of its own, so nothing may be inlined into index.html.
export default defineConfig({
  base: '/console/',
  plugins: [react()],
  // The workspace's TypeScript sources of @parley/client and @parley/protocol, without building them first.
  resolve: { conditions: ['source', 'browser', 'module', 'import', 'default'] },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: true,
  },
});
