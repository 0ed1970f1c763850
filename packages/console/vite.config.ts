import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

/**
 * Instead of emptying dist/ first: write the new build over it, then remove the hashed files this build did not
 * write. A server (or a browser test) reading dist/ while another build runs never finds it empty; files of an
 * identical build keep their names and stay.
 */
function pruneStaleAssets(): Plugin {
  return {
    name: 'parley-prune-stale-assets',
    apply: 'build',
    writeBundle(options, bundle) {
      const assets = path.join(options.dir ?? 'dist', 'assets');
      const written = new Set(Object.keys(bundle));
      for (const file of readdirSync(assets))
        if (!written.has(`assets/${file}`)) rmSync(path.join(assets, file), { force: true });
    },
  };
}

// Served by the Parley server at /console/ (index.html) and /app/ (app.html, the chat web app: docs/chat-app.md)
// under a CSP without 'unsafe-inline' (docs/console.md): every script and style is a file of its own, so nothing
// may be inlined into either page. Both pages load their hashed files from /console/assets/.
export default defineConfig({
  base: '/console/',
  plugins: [react(), pruneStaleAssets()],
  // The workspace's TypeScript sources of @parley/client and @parley/protocol, without building them first.
  resolve: { conditions: ['source', 'browser', 'module', 'import', 'default'] },
  build: {
    outDir: 'dist',
    emptyOutDir: false,
    target: 'es2022',
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: true,
    rollupOptions: { input: { console: 'index.html', app: 'app.html' } },
  },
});
