/**
 * Cuts a TCP byte stream into syslog messages, as RFC 6587 describes the
 * two framings in use: octet counting (`MSG-LEN SP SYSLOG-MSG`, §3.4.1) and
 * non-transparent framing (messages ended by LF, §3.4.2). The framing is
 * detected once per connection from its first byte (a digit: octet counting;
 * anything else, normally `<`: newline), unless configured.
 *
 * Memory is bounded: at most `maxMessageBytes` of a message is kept; the rest
 * is counted and discarded as it arrives, so no peer can make the receiver
 * buffer without limit.
 */

export type TcpFraming = 'auto' | 'newline' | 'octet-counting';

export interface Frame {
  /** The message bytes kept (at most maxMessageBytes). */
  data: Buffer;
  /** Set when the message was longer than maxMessageBytes: its full length in bytes. */
  truncatedFrom?: number;
}

export interface FramerOutput {
  frames: Frame[];
  /** The stream broke octet-counting framing and was switched to newline framing (once per connection). */
  framingError?: string;
}

const LF = 0x0a;
const CR = 0x0d;
const NUL = 0x00;
const SP = 0x20;
/** More digits than this cannot be a sane MSG-LEN (≥ 1 GB). */
const MAX_LEN_DIGITS = 9;

/**
 * A per-connection framer: feed it chunks with {@link SyslogStreamFramer.push}
 * and call {@link SyslogStreamFramer.end} when the peer closes.
 *
 * @example
 * const f = new SyslogStreamFramer({ framing: 'auto', maxMessageBytes: 65536 });
 * f.push(Buffer.from('12 <13>1 - - -')).frames // [] (two bytes short)
 * f.push(Buffer.from(' x')).frames // [{ data: <Buffer '<13>1 - - - x'> }]
 */
export class SyslogStreamFramer {
  private mode: 'newline' | 'octet' | undefined;
  private readonly max: number;
  // The message being assembled: kept bytes and the length seen so far.
  private parts: Buffer[] = [];
  private kept = 0;
  private seen = 0;
  // Octet counting: digits of MSG-LEN read so far, and bytes of the body still to come.
  private lenDigits = '';
  private remaining = -1;
  private brokeOnce = false;

  constructor(opts: { framing: TcpFraming; maxMessageBytes: number }) {
    this.max = opts.maxMessageBytes;
    if (opts.framing === 'newline') this.mode = 'newline';
    else if (opts.framing === 'octet-counting') this.mode = 'octet';
  }

  /** The framing in use (undefined until the first byte of an `auto` connection). */
  get framing(): 'newline' | 'octet-counting' | undefined {
    return this.mode === undefined ? undefined : this.mode === 'octet' ? 'octet-counting' : 'newline';
  }

  push(chunk: Buffer): FramerOutput {
    const out: FramerOutput = { frames: [] };
    let i = 0;
    while (i < chunk.length) {
      if (this.mode === undefined) {
        const c = chunk[i]!;
        // Leading blank lines say nothing about the framing.
        if (c === LF || c === CR || c === NUL || c === SP) {
          i++;
          continue;
        }
        this.mode = c >= 0x31 && c <= 0x39 ? 'octet' : 'newline';
      }
      i = this.mode === 'octet' ? this.octet(chunk, i, out) : this.newline(chunk, i, out);
    }
    return out;
  }

  /** The peer closed: a last line without LF is still a message; half an octet-counted frame is not. */
  end(): FramerOutput {
    const out: FramerOutput = { frames: [] };
    if (this.mode === 'newline' && this.seen > 0) this.emit(out);
    else if (this.mode === 'octet' && (this.remaining > 0 || this.lenDigits !== '')) {
      out.framingError = `the connection closed inside an octet-counted frame (${this.remaining > 0 ? `${this.remaining} bytes missing` : 'in MSG-LEN'})`;
    }
    this.reset();
    return out;
  }

  private reset(): void {
    this.parts = [];
    this.kept = 0;
    this.seen = 0;
  }

  private take(chunk: Buffer, from: number, to: number): void {
    const n = to - from;
    this.seen += n;
    const room = this.max - this.kept;
    if (room > 0) {
      const keep = Math.min(room, n);
      // A copy: the chunk belongs to the socket and is reused.
      this.parts.push(Buffer.from(chunk.subarray(from, from + keep)));
      this.kept += keep;
    }
  }

  private emit(out: FramerOutput): void {
    let data = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.kept);
    // Trailing CR (CRLF senders) and NUL (some appliances) are framing, not message.
    let end = data.length;
    while (end > 0 && (data[end - 1] === CR || data[end - 1] === NUL)) end--;
    if (end !== data.length) data = data.subarray(0, end);
    const frame: Frame = { data };
    if (this.seen > this.max) frame.truncatedFrom = this.seen;
    if (data.length > 0 || frame.truncatedFrom !== undefined) out.frames.push(frame);
    this.reset();
  }

  private newline(chunk: Buffer, start: number, out: FramerOutput): number {
    const lf = chunk.indexOf(LF, start);
    if (lf < 0) {
      this.take(chunk, start, chunk.length);
      return chunk.length;
    }
    this.take(chunk, start, lf);
    this.emit(out);
    return lf + 1;
  }

  private octet(chunk: Buffer, start: number, out: FramerOutput): number {
    let i = start;
    if (this.remaining < 0) {
      // Reading MSG-LEN. Stray line ends between frames are tolerated (some senders add them).
      while (i < chunk.length) {
        const c = chunk[i]!;
        if (this.lenDigits === '' && (c === LF || c === CR || c === NUL)) {
          i++;
          continue;
        }
        if (c >= 0x30 && c <= 0x39 && !(this.lenDigits === '' && c === 0x30)) {
          this.lenDigits += String.fromCharCode(c);
          i++;
          if (this.lenDigits.length > MAX_LEN_DIGITS) return this.broken(i, out, 'MSG-LEN is too long');
          continue;
        }
        if (c === SP && this.lenDigits !== '') {
          this.remaining = Number(this.lenDigits);
          this.lenDigits = '';
          i++;
          break;
        }
        return this.broken(i, out, `expected a digit or a space in MSG-LEN, got byte 0x${c.toString(16)}`);
      }
      if (this.remaining < 0) return i;
    }
    const n = Math.min(this.remaining, chunk.length - i);
    this.take(chunk, i, i + n);
    this.remaining -= n;
    i += n;
    if (this.remaining === 0) {
      this.remaining = -1;
      this.emit(out);
    }
    return i;
  }

  /**
   * The stream is not octet-counted after all (or the sender lost count).
   * The connection continues in newline framing from the bytes read so far,
   * so what follows a resynchronising LF is read again.
   */
  private broken(at: number, out: FramerOutput, why: string): number {
    if (!this.brokeOnce) out.framingError = why;
    this.brokeOnce = true;
    this.mode = 'newline';
    const digits = this.lenDigits;
    this.lenDigits = '';
    this.remaining = -1;
    if (digits) {
      const pending = Buffer.from(digits, 'latin1');
      this.take(pending, 0, pending.length);
    }
    return at;
  }
}
