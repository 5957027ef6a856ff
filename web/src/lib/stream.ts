/**
 * Live updates from `GET /stream` (Server-Sent Events). The console reads the stream with fetch and a
 * ReadableStream rather than EventSource, because EventSource cannot send the Authorization header and the key
 * must never go into a URL. The parser follows the HTML standard's event-stream rules: lines end with CRLF, LF or
 * CR (a CRLF may be split across chunks), `:` starts a comment, `data:` lines of one event are joined with LF,
 * `id:` sets the last event id (kept across events, sent back as Last-Event-ID on reconnect), and an event is
 * dispatched at a blank line only when it carried data.
 */
import { useEffect, useRef } from 'react';
import { keyStore } from './api.ts';

export interface SseMessage {
  /** `event:` field, `message` when absent. */
  event: string;
  data: string;
  /** The last event id in force when the message was dispatched ('' when none was ever set). */
  id: string;
}

export class SseParser {
  private buffer = '';
  /** The previous chunk ended with CR: an LF starting the next chunk belongs to the same line break. */
  private afterCR = false;
  private data: string[] = [];
  private hasData = false;
  private eventType = '';
  /** The id read so far; it becomes {@link lastEventId} when its event ends (at the blank line). */
  private idBuffer = '';
  /** Last event id of a completed event: survives across events, as the standard says. */
  lastEventId = '';
  /** Reconnection delay the server asked for (`retry:`), in milliseconds. */
  retryMs: number | undefined;
  /** Comments seen (`: ping` keep-alives): a sign the connection is alive. */
  comments = 0;

  /** @param lastEventId the id to start from (a resumed stream keeps it until the server sends another). */
  constructor(lastEventId = '') {
    this.lastEventId = lastEventId;
    this.idBuffer = lastEventId;
  }

  /** Feeds decoded text; returns the messages completed by it, in order. */
  push(chunk: string): SseMessage[] {
    const out: SseMessage[] = [];
    let text = chunk;
    if (this.afterCR && text.startsWith('\n')) text = text.slice(1);
    this.afterCR = false;
    const buf = this.buffer + text;
    let start = 0;
    for (let i = this.buffer.length; i < buf.length; i++) {
      const c = buf.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      this.line(buf.slice(start, i), out);
      if (c === 13) {
        if (i + 1 < buf.length) {
          if (buf.charCodeAt(i + 1) === 10) i++;
        } else this.afterCR = true;
      }
      start = i + 1;
    }
    this.buffer = buf.slice(start);
    return out;
  }

  private line(line: string, out: SseMessage[]): void {
    if (line === '') {
      this.lastEventId = this.idBuffer;
      if (this.hasData)
        out.push({ event: this.eventType || 'message', data: this.data.join('\n'), id: this.lastEventId });
      this.data = [];
      this.hasData = false;
      this.eventType = '';
      return;
    }
    if (line.startsWith(':')) {
      this.comments++;
      return;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        this.hasData = true;
        break;
      case 'event':
        this.eventType = value;
        break;
      case 'id':
        // An id with NUL is ignored (standard): it could not be sent back in a header.
        if (!value.includes('\0')) this.idBuffer = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
      // Unknown fields are ignored.
    }
  }
}

/** What `GET /stream` sends for an alert or incident that was created or changed. */
export interface StreamChange {
  id: string;
  change: 'created' | 'updated';
  status: string;
  severity: string;
  priority: number;
  title: string;
  updated_at: string;
}

export type StreamState = 'connecting' | 'open' | 'retrying' | 'stopped';

export interface StreamOptions {
  path?: string;
  /** The key to send; read on every (re)connect so a new sign-in is used. No key: the stream stops. */
  key?: () => string | null;
  onMessage(m: SseMessage): void;
  onState?(s: StreamState, detail?: string): void;
  signal: AbortSignal;
  /** Resume after this cursor on the first connection. */
  lastEventId?: string;
  /** Exponential backoff between reconnects: first delay and ceiling, in milliseconds. */
  backoff?: { initialMs: number; maxMs: number };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

/**
 * Keeps a stream open until `signal` aborts: reconnects with exponential backoff (reset once a connection
 * delivered something), resumes with Last-Event-ID, and stops for good on 401/403 (the key is gone or lacks
 * the read scope: asking again will not help) or when there is no key.
 * Resolves when it stops.
 */
export async function openStream(opts: StreamOptions): Promise<void> {
  const { signal } = opts;
  const path = opts.path ?? '/stream';
  const backoff = opts.backoff ?? { initialMs: 1000, maxMs: 30_000 };
  const getKey = opts.key ?? (() => keyStore.get());
  let lastId = opts.lastEventId ?? '';
  let delay = backoff.initialMs;
  let serverRetry: number | undefined;
  const state = (s: StreamState, detail?: string) => {
    if (!signal.aborted || s === 'stopped') opts.onState?.(s, detail);
  };

  while (!signal.aborted) {
    const key = getKey();
    if (!key) break;
    state('connecting');
    const headers: Record<string, string> = { accept: 'text/event-stream', authorization: `Bearer ${key}` };
    if (lastId) headers['last-event-id'] = lastId;
    let detail = 'the connection closed';
    try {
      const res = await fetch(path, { headers, signal, credentials: 'omit', cache: 'no-store' });
      if (res.status === 401 || res.status === 403) {
        state('stopped', `the server refused the stream (${res.status})`);
        return;
      }
      if (!res.ok || !res.body) {
        detail = `the server answered ${res.status}`;
      } else {
        state('open');
        const parser = new SseParser(lastId);
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        try {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            const messages = parser.push(value);
            // Something arrived: the connection works, so the next failure starts the backoff afresh.
            if (messages.length || parser.comments) delay = backoff.initialMs;
            lastId = parser.lastEventId;
            for (const m of messages) opts.onMessage(m);
          }
        } finally {
          reader.cancel().catch(() => undefined);
        }
        serverRetry = parser.retryMs;
      }
    } catch (e) {
      if (signal.aborted) break;
      detail = e instanceof Error ? e.message : 'the connection failed';
    }
    if (signal.aborted) break;
    state('retrying', detail);
    const wait = serverRetry ?? delay;
    // Jitter spreads the reconnects of many consoles after a server restart.
    await sleep(wait > 0 ? wait * (0.75 + Math.random() * 0.5) : 0, signal);
    delay = Math.min(backoff.maxMs, Math.max(1, delay * 2));
  }
  state('stopped');
}

/** Parses a stream message's data as a {@link StreamChange}; null for anything else. */
export function parseChange(m: SseMessage): StreamChange | null {
  try {
    const v = JSON.parse(m.data) as Partial<StreamChange>;
    if (typeof v?.id !== 'string' || (v.change !== 'created' && v.change !== 'updated')) return null;
    return v as StreamChange;
  } catch {
    return null;
  }
}

/**
 * Listens to the stream while the component is mounted and `enabled` (a signed-in identity): sign-out or
 * unmount aborts it. The handler may change between renders without reconnecting.
 */
export function useStream(
  enabled: boolean,
  onMessage: (m: SseMessage) => void,
  onState?: (s: StreamState, detail?: string) => void,
): void {
  const handlers = useRef({ onMessage, onState });
  useEffect(() => {
    handlers.current = { onMessage, onState };
  });
  useEffect(() => {
    if (!enabled) return;
    const ctl = new AbortController();
    void openStream({
      signal: ctl.signal,
      onMessage: (m) => handlers.current.onMessage(m),
      onState: (s, d) => handlers.current.onState?.(s, d),
    });
    return () => ctl.abort();
  }, [enabled]);
}
