import type { Runtime } from '../runtime.ts';
import type { KeyVerifier } from './auth.ts';

/** What route modules receive: the runtime's components, nothing global. */
export interface ServerDeps {
  runtime: Runtime;
  keys: KeyVerifier;
  version: string;
  startedAt: number;
}
