import type { Logger } from 'pino';
import { AisocError, describeError } from '../errors.ts';
import { type ChangeCursor, type ChangeRow, compareCursors, cursorOf, type Store } from '../store/index.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { streamMetrics } from './metrics.ts';

/** Where a stream's bytes go: an HTTP response (or, in tests, any writable). */
export interface StreamSink {
  write(chunk: string): boolean;
  end(): void;
  destroy(): void;
  readonly writableLength: number;
  readonly destroyed: boolean;
  on(event: 'close', listener: () => void): unknown;
}

export interface StreamHubOptions {
  store: Store;
  logger: Logger;
  metrics: Metrics;
  /** How often the poller reads what changed (`server.stream_poll_ms`). */
  pollMs: number;
  /** Streams open at once (`server.stream_max_clients`). */
  maxClients: number;
  /** A `: ping` comment this often, so proxies and clients see the stream alive. */
  pingMs?: number;
  /** A client whose unsent bytes pass this is dropped: it never holds up the poller or the others. */
  maxBufferBytes?: number;
  /**
   * How far back each poll looks again for rows that were committed after
   * later ones (a transaction that chose its time, then waited for a lock),
   * or written by a process whose clock is behind.
   */
  lateWindowMs?: number;
}

/** Rows per read of the feed. */
const PAGE = 500;
/** Pages read in one poll before the next turn (a burst catches up over a few polls). */
const PAGES_PER_POLL = 4;
/** Rows a resuming client is sent from its Last-Event-ID at most; past it, it is told to reload. */
const RESUME_MAX = 5_000;

/** `Last-Event-ID` as the stream writes it: microseconds of `updated_at`, a dot, the record id. */
const CURSOR = /^(\d{1,19})\.([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$/;

export function formatCursor(c: ChangeCursor): string {
  return `${c.micros}.${c.id}`;
}

/** A `Last-Event-ID` read back, or undefined when it is not one this server wrote. */
export function parseCursor(s: string): ChangeCursor | undefined {
  const m = CURSOR.exec(s);
  return m ? { micros: BigInt(m[1]!), id: m[2]!.toLowerCase() } : undefined;
}

interface Client {
  sink: StreamSink;
  keyId: string;
  /** Where a resuming client starts (its Last-Event-ID), until the poller has sent it what it missed. */
  resumeFrom?: ChangeCursor;
  closed: boolean;
}

/** The `data:` of an event: what a list row of the console shows. */
export function eventData(row: ChangeRow): string {
  return JSON.stringify({
    id: row.id,
    change: row.created_at === row.updated_at ? 'created' : 'updated',
    status: row.status,
    severity: row.severity,
    priority: row.priority,
    title: row.title,
    updated_at: row.updated_at,
  });
}

/**
 * `GET /stream`'s one poller per process: every `pollMs` it reads the alerts
 * and incidents that changed after its position (`store.changes`, in
 * `(updated_at, id)` order) and writes each change to every open stream as a
 * Server-Sent Event whose id is the position after it. It runs only while a
 * stream is open. Each poll also drops streams whose key was revoked, and a
 * client that does not read is dropped once its unsent bytes pass
 * `maxBufferBytes`, so none holds up the rest. A client that sends
 * `Last-Event-ID` is first sent what changed after it.
 *
 * The position is a time written by the process that changed the row: a row
 * committed after later ones, or stamped by a process whose clock is behind,
 * lands behind the position. Each poll reads the last `lateWindowMs` again
 * and sends what it had not sent (ids of what it sent in that window are
 * kept); a row later than that is not streamed (the console's lists still
 * show it on their next fetch).
 */
export class StreamHub {
  private readonly clients = new Set<Client>();
  private position?: ChangeCursor;
  /** Set when the last stream closed: the next stream starts from the store's latest change, not from then. */
  private stale = false;
  private starting?: Promise<void>;
  /** Rows sent in the late window, by `id@micros`. */
  private readonly recent = new Map<string, bigint>();
  private timer?: NodeJS.Timeout;
  private pinger?: NodeJS.Timeout;
  private polling?: Promise<void>;
  private closed = false;
  private readonly pingMs: number;
  private readonly maxBufferBytes: number;
  private readonly lateMicros: bigint;
  private readonly m: ReturnType<typeof streamMetrics>;

  constructor(private readonly o: StreamHubOptions) {
    this.pingMs = o.pingMs ?? 15_000;
    this.maxBufferBytes = o.maxBufferBytes ?? 1024 * 1024;
    this.lateMicros = BigInt(o.lateWindowMs ?? 30_000) * 1000n;
    this.m = streamMetrics(o.metrics);
  }

  /** Streams open now. */
  get size(): number {
    return this.clients.size;
  }

  /**
   * Refuse a new stream when `maxClients` are open (429, with a retry hint)
   * or the server is closing. Call before answering, so the refusal is an
   * ordinary error response.
   */
  admit(): void {
    if (this.closed)
      throw new AisocError('AISOC_ERR_SHUTTING_DOWN', 'The server is shutting down.', {
        retryAfterSeconds: 5,
      });
    if (this.clients.size >= this.o.maxClients)
      throw new AisocError(
        'AISOC_ERR_OVERLOADED',
        `${this.o.maxClients} streams are open, the most server.stream_max_clients allows; retry later.`,
        { field: 'server.stream_max_clients', retryAfterSeconds: 10 },
      );
  }

  /** Where the feed is now (reads the store's latest change the first time). */
  async start(): Promise<void> {
    if (this.position && !this.stale) return;
    this.starting ??= (async () => {
      const head = await this.o.store.changes.head();
      this.stale = false;
      this.recent.clear();
      // What changed just before: already history to the first client, so the first poll does not send it as late.
      for (const k of await this.o.store.changes.keysBetween(head.micros - this.lateMicros, head, 10_000))
        this.recent.set(`${k.id}@${k.micros}`, k.micros);
      this.position = head;
    })().finally(() => {
      this.starting = undefined;
    });
    await this.starting;
  }

  /**
   * Attach an open stream for the key `keyId`; `resumeFrom` is its
   * Last-Event-ID. Headers must have been sent. Returns a function that
   * detaches it (also done when the sink closes).
   */
  add(sink: StreamSink, keyId: string, resumeFrom?: ChangeCursor): () => void {
    const client: Client = { sink, keyId, closed: false };
    // The caller started the hub just before: its position is current, whatever closed in between.
    this.stale = false;
    if (resumeFrom && this.position) {
      // A position this server never reached (another server's, or made up) resumes from where it is.
      client.resumeFrom = compareCursors(resumeFrom, this.position) < 0 ? resumeFrom : undefined;
    }
    this.clients.add(client);
    this.m.streamClients.set(this.clients.size);
    sink.on('close', () => this.detach(client));
    this.schedule();
    this.pinger ??= setInterval(() => this.ping(), this.pingMs);
    this.pinger.unref();
    return () => this.end(client);
  }

  /** End every stream and stop polling (the server is closing). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pinger) clearInterval(this.pinger);
    this.pinger = undefined;
    for (const c of [...this.clients]) this.end(c);
    await this.polling?.catch(() => {});
  }

  private end(c: Client): void {
    if (!c.closed && !c.sink.destroyed) c.sink.end();
    this.detach(c);
  }

  private drop(c: Client, reason: 'slow' | 'revoked'): void {
    this.m.streamDropped.inc({ reason });
    if (reason === 'slow') {
      // Its buffer is full: ending would queue behind it, so the connection goes.
      c.sink.destroy();
      this.detach(c);
    } else this.end(c);
  }

  private detach(c: Client): void {
    if (c.closed) return;
    c.closed = true;
    this.clients.delete(c);
    this.m.streamClients.set(this.clients.size);
    if (this.clients.size === 0) {
      // Nobody listens: what changes from now on is history to the next stream, which starts live.
      this.stale = true;
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      if (this.pinger) clearInterval(this.pinger);
      this.pinger = undefined;
    }
  }

  private write(c: Client, chunk: string): boolean {
    if (c.closed) return false;
    c.sink.write(chunk);
    if (c.sink.writableLength > this.maxBufferBytes) {
      this.drop(c, 'slow');
      return false;
    }
    return true;
  }

  private ping(): void {
    for (const c of [...this.clients]) this.write(c, ': ping\n\n');
  }

  private schedule(): void {
    if (this.closed || this.timer || this.clients.size === 0) return;
    this.timer = setTimeout(() => {
      this.polling = this.poll()
        .catch((err) => {
          this.o.logger.warn({ err: describeError(err) }, 'The stream poller failed; it polls again.');
        })
        .finally(() => {
          this.timer = undefined;
          this.polling = undefined;
          this.schedule();
        });
    }, this.o.pollMs);
    this.timer.unref();
  }

  private send(c: Client, row: ChangeRow, id: ChangeCursor): void {
    if (this.write(c, `id: ${formatCursor(id)}\nevent: ${row.kind}\ndata: ${eventData(row)}\n\n`))
      this.m.streamEvents.inc({ kind: row.kind });
  }

  /** One poll: revoked keys, resuming clients, then what changed, to everyone. */
  async poll(): Promise<void> {
    if (this.clients.size === 0) return;
    await this.start();
    const { store } = this.o;

    const active = await store.apiKeys.activeIds([...new Set([...this.clients].map((c) => c.keyId))]);
    for (const c of [...this.clients]) if (!active.has(c.keyId)) this.drop(c, 'revoked');

    const position = this.position!;
    for (const c of [...this.clients]) {
      if (!c.resumeFrom) continue;
      let from = c.resumeFrom;
      let sent = 0;
      c.resumeFrom = undefined;
      for (;;) {
        const rows = (await store.changes.after(from, PAGE)).filter(
          (r) => compareCursors(cursorOf(r), position) <= 0,
        );
        for (const r of rows) this.send(c, r, cursorOf(r));
        sent += rows.length;
        if (rows.length < PAGE || c.closed) break;
        if (sent >= RESUME_MAX) {
          // Too far behind to replay: say so, and go on live; the console reloads its lists on this.
          this.write(c, ': resume truncated; reload\n\n');
          break;
        }
        from = cursorOf(rows[rows.length - 1]!);
      }
    }

    // Rows committed late, behind the position: sent with the position as their id, so ids never go back.
    const late = (
      await store.changes.keysBetween(position.micros - this.lateMicros, position, 10_000)
    ).filter((k) => !this.recent.has(`${k.id}@${k.micros}`));
    if (late.length) {
      const when = new Map(late.map((k) => [k.id, k.micros]));
      for (const r of await store.changes.rowsOf(late)) {
        // Changed again since: that change is a row of its own, sent when the feed reaches it.
        if (when.get(r.id) !== r.micros) continue;
        this.recent.set(`${r.id}@${r.micros}`, r.micros);
        for (const c of [...this.clients]) if (!c.resumeFrom) this.send(c, r, position);
      }
    }

    for (let page = 0; page < PAGES_PER_POLL; page++) {
      const rows = await store.changes.after(this.position!, PAGE);
      for (const r of rows) {
        this.position = cursorOf(r);
        this.recent.set(`${r.id}@${r.micros}`, r.micros);
        for (const c of [...this.clients]) if (!c.resumeFrom) this.send(c, r, this.position);
      }
      if (rows.length < PAGE) break;
    }

    const floor = this.position!.micros - this.lateMicros;
    for (const [k, micros] of this.recent) if (micros <= floor) this.recent.delete(k);
  }
}
