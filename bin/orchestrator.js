#!/usr/bin/env node
// Entry point of the `orchestrator` command: runs the TypeScript sources through tsx's loader
// (no build step needed after `npm install`).
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
