import { Worker } from 'node:worker_threads';
import { AisocError } from './errors.ts';

/**
 * Parses large JSON bodies on a worker thread. Turning 15 MB of bytes into
 * text and then into a value takes the main thread 100 ms or more, during
 * which no other request (nor `/health`) is answered; on the worker it
 * costs the main thread a copy of the bytes and the adoption of the result.
 * An array comes back in parts, one message (one turn of the event loop)
 * each, so a body of many records is not one long block either.
 *
 * It only speeds up the common case: when the body is not one JSON value
 * (NDJSON, or malformed) the answer is `{ ok: false }` and the caller parses
 * inline as before, with its own error messages. If the thread cannot run,
 * the answer is `{ ok: false }` as well.
 */

/** Bodies of at least this many bytes are worth a trip to the JSON thread. */
export const OFF_THREAD_MIN_BYTES = 1024 * 1024;

/** Array elements per message from the thread. */
const PART_ELEMENTS = 1000;

/**
 * The answer: the value, or "not parsed" with the bytes to parse inline
 * (the same bytes: when the thread was lent them rather than given a copy,
 * it hands them back).
 */
export type OffThreadParse = { ok: true; value: unknown } | { ok: false; bytes: Buffer };

// Plain JavaScript, so the thread needs no TypeScript loader. `scrub` does what Fastify's
// onProtoPoisoning/onConstructorPoisoning 'remove' does: own "__proto__" keys, and
// "constructor" keys holding a "prototype", are dropped before the value leaves.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const decoder = new TextDecoder();
function scrub(v) {
  if (v === null || typeof v !== 'object') return;
  if (Array.isArray(v)) { for (let i = 0; i < v.length; i++) scrub(v[i]); return; }
  if (Object.hasOwn(v, '__proto__')) delete v.__proto__;
  const c = Object.hasOwn(v, 'constructor') ? v.constructor : undefined;
  if (c !== null && typeof c === 'object' && Object.hasOwn(c, 'prototype')) delete v.constructor;
  for (const k in v) scrub(v[k]);
}
parentPort.on('message', ({ id, bytes, lent, scrub: clean }) => {
  let value;
  try {
    const text = decoder.decode(bytes).trim();
    if (text === '') throw new Error('empty');
    value = JSON.parse(text);
    if (clean && (text.includes('__proto__') || text.includes('constructor') || text.includes('\\\\u00'))) scrub(value);
  } catch {
    // Bytes lent to the thread go back with the answer, for the caller's inline parse.
    if (lent) parentPort.postMessage({ id, ok: false, bytes }, [bytes.buffer]);
    else parentPort.postMessage({ id, ok: false });
    return;
  }
  if (Array.isArray(value) && value.length > ${PART_ELEMENTS}) {
    for (let i = 0; i < value.length; i += ${PART_ELEMENTS})
      parentPort.postMessage({ id, part: value.slice(i, i + ${PART_ELEMENTS}) });
    parentPort.postMessage({ id, ok: true, parts: true });
    return;
  }
  parentPort.postMessage({ id, ok: true, value });
});
`;

interface Pending {
  resolve: (r: OffThreadParse) => void;
  reject: (err: Error) => void;
  parts: unknown[][];
  /** The caller's bytes, when they were copied (not lent): the answer to "not parsed". */
  bytes?: Buffer;
}

type Reply = {
  id: number;
  ok?: boolean;
  value?: unknown;
  part?: unknown[];
  parts?: boolean;
  bytes?: Uint8Array;
};

/** Whether `b` is the whole of its ArrayBuffer, so the buffer can be moved to the thread rather than copied. */
function ownsItsMemory(b: Buffer): boolean {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer;
}

class JsonThread {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  /**
   * Parse `bytes` (UTF-8, a byte-order mark allowed) as one JSON value on the
   * thread; `scrub` removes prototype-poisoning keys as Fastify does. A
   * buffer that is the whole of its memory (a concatenated or decompressed
   * body) is moved to the thread, not copied, and must not be used after
   * this call: use the `bytes` of a "not parsed" answer instead.
   *
   * @example const r = await jsonThread.parse(body); const value = r.ok ? r.value : parseInline(r.bytes);
   */
  parse(bytes: Buffer, options: { scrub?: boolean } = {}): Promise<OffThreadParse> {
    const worker = this.start();
    if (!worker) return Promise.resolve({ ok: false, bytes });
    const id = this.nextId++;
    const lent = ownsItsMemory(bytes);
    return new Promise((resolve, reject) => {
      this.pending.set(id, lent ? { resolve, reject, parts: [] } : { resolve, reject, parts: [], bytes });
      if (this.pending.size === 1) worker.ref();
      // Copying 15 MB into the message took the main thread tens of milliseconds; moving it takes none.
      if (lent)
        worker.postMessage({ id, bytes, lent, scrub: options.scrub === true }, [bytes.buffer as ArrayBuffer]);
      else worker.postMessage({ id, bytes, lent, scrub: options.scrub === true });
    });
  }

  private start(): Worker | undefined {
    if (this.worker) return this.worker;
    try {
      const w = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] });
      w.on('message', (m: Reply) => this.onMessage(m));
      // A thread that fails answers every waiting caller "not parsed"; the next call starts another.
      const fail = () => {
        if (this.worker !== w) return;
        this.worker = undefined;
        for (const p of this.pending.values()) {
          if (p.bytes) p.resolve({ ok: false, bytes: p.bytes });
          // Bytes lent to a thread that died went with it: nothing was accepted, so the sender may retry.
          else
            p.reject(
              new AisocError(
                'AISOC_ERR_OVERLOADED',
                'The JSON thread stopped while parsing the body; send it again.',
                {
                  field: 'body',
                  retryAfterSeconds: 1,
                },
              ),
            );
        }
        this.pending.clear();
      };
      w.on('error', fail);
      w.on('exit', fail);
      // An idle thread never holds the process open.
      w.unref();
      this.worker = w;
      return w;
    } catch {
      return undefined;
    }
  }

  private onMessage(m: Reply): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.part) {
      p.parts.push(m.part);
      return;
    }
    this.pending.delete(m.id);
    if (this.pending.size === 0) this.worker?.unref();
    if (!m.ok) {
      const back = m.bytes ? Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength) : undefined;
      p.resolve({ ok: false, bytes: back ?? p.bytes ?? Buffer.alloc(0) });
    } else if (m.parts) p.resolve({ ok: true, value: p.parts.flat() });
    else p.resolve({ ok: true, value: m.value });
  }
}

/** The process's JSON thread, started on first use. */
export const jsonThread = new JsonThread();
