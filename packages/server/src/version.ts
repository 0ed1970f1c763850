import { createRequire } from 'node:module';

// Resolved by the package's own name, so the sources (src/) and the compiled output (dist/src/) find the
// same manifest, in the repository and in an installed tarball.
const manifest = createRequire(import.meta.url)('@parley/server/package.json') as { version: string };

export const parleyVersion = manifest.version;
