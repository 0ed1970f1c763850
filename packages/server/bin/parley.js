#!/usr/bin/env node
// Runs the compiled server with plain Node: no TypeScript transpiler at run time (`npm run build` makes dist/).
import { existsSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { pathToFileURL } from 'node:url';

const main = path.join(import.meta.dirname, '..', 'dist', 'src', 'main.js');

if (!existsSync(main)) {
  process.stderr.write(
    `parley: the compiled server is missing (${main}).\n` +
      'Build it first: run `npm run build` at the repository root (`npm start` builds before it starts).\n',
  );
  process.exit(1);
}

await import(pathToFileURL(main).href);
