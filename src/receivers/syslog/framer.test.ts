import { describe, expect, it } from 'vitest';
import { type FramerOutput, SyslogStreamFramer } from './framer.ts';

const texts = (o: FramerOutput) => o.frames.map((f) => f.data.toString('utf8'));
const octet = (msg: string) => `${Buffer.byteLength(msg)} ${msg}`;

function feed(
  framer: SyslogStreamFramer,
  chunks: Array<string | Buffer>,
): { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  for (const c of chunks) {
    const out = framer.push(typeof c === 'string' ? Buffer.from(c) : c);
    lines.push(...texts(out));
    if (out.framingError) errors.push(out.framingError);
  }
  const end = framer.end();
  lines.push(...texts(end));
  if (end.framingError) errors.push(end.framingError);
  return { lines, errors };
}

const auto = (max = 1024) => new SyslogStreamFramer({ framing: 'auto', maxMessageBytes: max });

describe('syslog TCP framing: newline', () => {
  it('cuts LF-terminated lines, drops CR and NUL trailers, and keeps a last line without LF', () => {
    const r = feed(auto(), ['<13>one\r\n<13>tw', 'o\n\n<13>three\0\n<13>last']);
    expect(r.lines).toEqual(['<13>one', '<13>two', '<13>three', '<13>last']);
    expect(r.errors).toEqual([]);
  });

  it('truncates an oversize line to the limit, discards the rest, and goes on with the next line', () => {
    const f = auto(480);
    const big = `<13>${'x'.repeat(2000)}`;
    const out = [
      f.push(Buffer.from(big.slice(0, 700))),
      f.push(Buffer.from(`${big.slice(700)}\n<13>next\n`)),
    ];
    const frames = out.flatMap((o) => o.frames);
    expect(frames).toHaveLength(2);
    expect(frames[0]!.data.length).toBe(480);
    expect(frames[0]!.truncatedFrom).toBe(big.length);
    expect(frames[1]!.data.toString()).toBe('<13>next');
    expect(frames[1]!.truncatedFrom).toBeUndefined();
  });

  it('never holds more than the limit of a line that does not end', () => {
    const f = auto(500);
    for (let i = 0; i < 200; i++) f.push(Buffer.alloc(64 * 1024, 0x41));
    const last = f.end().frames[0]!;
    expect(last.data.length).toBe(500);
    expect(last.truncatedFrom).toBe(200 * 64 * 1024);
  });

  it('treats a stream starting with an ISO timestamp as newline framed, not octet counted', () => {
    const r = feed(auto(), ['2026-03-09T10:00:00Z host sshd[1]: a\n2026-03-09T10:00:01Z host sshd[1]: b\n']);
    expect(r.lines).toEqual(['2026-03-09T10:00:00Z host sshd[1]: a', '2026-03-09T10:00:01Z host sshd[1]: b']);
  });
});

describe('syslog TCP framing: octet counting (RFC 6587)', () => {
  const m1 = '<34>1 2026-03-09T10:00:00Z h su - ID47 - first';
  const m2 = '<165>1 2026-03-09T10:00:01Z h app - - [a@1 b="c\\"d"] second\nwith a newline inside';
  const m3 = '<13>1 - - - - - - ünïcödé';

  it('reads several frames in one chunk, including a message with a newline and multibyte text', () => {
    const r = feed(auto(), [octet(m1) + octet(m2) + octet(m3)]);
    expect(r.lines).toEqual([m1, m2, m3]);
    expect(r.errors).toEqual([]);
  });

  it('reassembles frames split anywhere, byte by byte', () => {
    const stream = Buffer.from(octet(m1) + octet(m2) + octet(m3));
    const chunks = [...stream].map((b) => Buffer.from([b]));
    expect(feed(auto(), chunks).lines).toEqual([m1, m2, m3]);
  });

  it('tolerates line ends between frames', () => {
    expect(feed(auto(), [`${octet(m1)}\n${octet(m3)}\r\n`]).lines).toEqual([m1, m3]);
  });

  it('truncates an oversize frame and stays in step with the next one', () => {
    const big = `<13>1 - - - - - - ${'y'.repeat(3000)}`;
    const f = auto(600);
    const frames = [
      f.push(Buffer.from(octet(big).slice(0, 1000))),
      f.push(Buffer.from(octet(big).slice(1000) + octet(m1))),
    ].flatMap((o) => o.frames);
    expect(frames.map((x) => x.data.length)).toEqual([600, Buffer.byteLength(m1)]);
    expect(frames[0]!.truncatedFrom).toBe(big.length);
    expect(frames[1]!.data.toString()).toBe(m1);
  });

  it('falls back to newline framing when a count is broken, and reports it once', () => {
    const r = feed(auto(), [`${octet(m1)}12x oops\n<13>after\n`]);
    expect(r.lines).toEqual([m1, '12x oops', '<13>after']);
    expect(r.errors).toEqual(['expected a digit or a space in MSG-LEN, got byte 0x78']);
  });

  it('refuses absurd lengths instead of waiting for a gigabyte', () => {
    const r = feed(auto(), ['9999999999 <13>x\n']);
    expect(r.errors[0]).toMatch(/MSG-LEN is too long/);
    expect(r.lines).toEqual(['9999999999 <13>x']);
  });

  it('reports a connection closed in the middle of a frame', () => {
    const r = feed(auto(), ['50 <13>1 - - - - - - short']);
    expect(r.lines).toEqual([]);
    expect(r.errors[0]).toMatch(/closed inside an octet-counted frame/);
  });

  it('can be forced to either framing', () => {
    const newline = new SyslogStreamFramer({ framing: 'newline', maxMessageBytes: 1024 });
    expect(feed(newline, ['12 hello world\n']).lines).toEqual(['12 hello world']);
    const counted = new SyslogStreamFramer({ framing: 'octet-counting', maxMessageBytes: 1024 });
    expect(feed(counted, ['5 hello5 world']).lines).toEqual(['hello', 'world']);
  });

  it('survives random bytes without throwing or holding more than the limit', () => {
    let seed = 7;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let run = 0; run < 200; run++) {
      const f = auto(512);
      for (let c = 0; c < 20; c++) {
        const chunk = Buffer.alloc(rnd() % 700);
        for (let i = 0; i < chunk.length; i++) chunk[i] = rnd() & 0xff;
        for (const frame of f.push(chunk).frames) expect(frame.data.length).toBeLessThanOrEqual(512);
      }
      for (const frame of f.end().frames) expect(frame.data.length).toBeLessThanOrEqual(512);
    }
  });
});
