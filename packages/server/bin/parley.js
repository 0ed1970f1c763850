#!/usr/bin/env node
// Runs the TypeScript sources through tsx, so nothing has to be built between `npm install` and start.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
