/**
 * Turns of the event loop for long work on the main thread. A promise that
 * resolves at once (PGlite answers queries that way, and so do caches) never
 * lets the loop reach pending I/O, so a chain of them holds up every other
 * request, `/health` included, for as long as the chain runs.
 */

/**
 * Resolve after the event loop has run once more (pending I/O first).
 *
 * @example for (const item of items) { await yieldToEventLoop(); work(item); }
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
