// Worker threads start without the TypeScript loader the main thread may have;
// registering tsx here (resolved from this file, not the working directory)
// lets the worker import the same .ts modules under vitest, tsx and bin/aisoc.mjs alike.
// Used only when esbuild cannot bundle the worker (src/workers.ts).
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
