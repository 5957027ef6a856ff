import type { PubAck } from '@nats-io/jetstream';
import {
  createInbox,
  headers,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from '@nats-io/transport-node';

const decoder = new TextDecoder();

interface Waiting {
  resolve(ack: PubAck): void;
  reject(err: Error): void;
  deadline: number;
}

/**
 * JetStream publishes with many acknowledgements in flight: each message is
 * a plain publish whose reply subject is a token under one inbox this
 * publisher subscribes to once, and the stream's acknowledgement (PubAck)
 * is matched to its publish by that token. The client's own `js.publish` is
 * a request per message (a promise, a timer and a subscription entry each):
 * about three times the CPU per event, measured. Timeouts are swept every
 * 100 ms, not timed one by one.
 *
 * @example
 * const p = new AsyncPublisher(nc, 5000);
 * const ack = await p.publish('aisoc.events.cloudtrail', bytes, event.id);
 */
export class AsyncPublisher {
  private readonly inbox = createInbox();
  private readonly sub: Subscription;
  private readonly waiting = new Map<string, Waiting>();
  private next = 0;
  private sweeper?: NodeJS.Timeout;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs: number,
  ) {
    this.sub = nc.subscribe(`${this.inbox}.*`, {
      callback: (err, msg) => {
        if (err) return;
        const token = msg.subject.slice(this.inbox.length + 1);
        const w = this.waiting.get(token);
        if (!w) return;
        this.waiting.delete(token);
        if (msg.headers?.hasError) {
          // 503 "no responders": no stream takes the subject.
          w.reject(new Error(`JetStream answered ${msg.headers.code} ${msg.headers.description}`));
          return;
        }
        try {
          const ack = JSON.parse(decoder.decode(msg.data)) as PubAck & {
            error?: { code: number; description: string };
          };
          if (ack.error) w.reject(new Error(`JetStream refused the message: ${ack.error.description}`));
          else w.resolve({ stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate === true });
        } catch (e) {
          w.reject(e as Error);
        }
      },
    });
  }

  /** Publish `payload` to `subject` with `msgId` as `Nats-Msg-Id`; resolves with the stream's acknowledgement. */
  publish(subject: string, payload: Uint8Array, msgId: string, extra?: MsgHdrs): Promise<PubAck> {
    const token = (++this.next).toString(36);
    const h = extra ?? headers();
    h.set('Nats-Msg-Id', msgId);
    return new Promise<PubAck>((resolve, reject) => {
      this.waiting.set(token, { resolve, reject, deadline: Date.now() + this.timeoutMs });
      this.sweep();
      try {
        this.nc.publish(subject, payload, { reply: `${this.inbox}.${token}`, headers: h });
      } catch (err) {
        this.waiting.delete(token);
        reject(err as Error);
      }
    });
  }

  /**
   * Fail every publish still waiting (the connection was lost: its
   * acknowledgements will never come, though the stream may have stored
   * the messages; a resend is recognised by its message id).
   */
  failAll(reason: string): void {
    const err = new Error(reason);
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }

  close(): void {
    this.failAll('The publisher was closed.');
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    try {
      this.sub.unsubscribe();
    } catch {
      // The connection is closed already.
    }
  }

  /** Time out publishes past their deadline, every 100 ms while any waits. */
  private sweep(): void {
    if (this.sweeper) return;
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const [token, w] of this.waiting) {
        // Deadlines grow in the order publishes were made: the first one not due ends the sweep.
        if (w.deadline > now) break;
        this.waiting.delete(token);
        w.reject(new Error(`JetStream did not acknowledge the message within ${this.timeoutMs} ms`));
      }
      if (this.waiting.size === 0) {
        clearInterval(this.sweeper);
        this.sweeper = undefined;
      }
    }, 100);
    this.sweeper.unref();
  }
}
