import { afterEach, describe, expect, it, vi } from 'vitest';
import { openStream, parseChange, type SseMessage, SseParser, type StreamState } from './stream.ts';

function feed(chunks: string[]): { messages: SseMessage[]; parser: SseParser } {
  const parser = new SseParser();
  const messages = chunks.flatMap((c) => parser.push(c));
  return { messages, parser };
}

describe('SseParser', () => {
  const stream =
    ': ping\n' +
    'event: alert\nid: 41\ndata: {"id":"a","change":"created"}\n\n' +
    'id: 42\nevent: incident\ndata: {"id":"b",\ndata: "change":"updated"}\n\n';

  it('gives the same messages however the text is split, even mid-line and mid-field', () => {
    const whole = feed([stream]).messages;
    expect(whole).toEqual([
      { event: 'alert', id: '41', data: '{"id":"a","change":"created"}' },
      { event: 'incident', id: '42', data: '{"id":"b",\n"change":"updated"}' },
    ]);
    for (let cut = 1; cut < stream.length; cut++) {
      expect(feed([stream.slice(0, cut), stream.slice(cut)]).messages).toEqual(whole);
    }
    expect(feed(stream.split('')).messages).toEqual(whole);
  });

  it('accepts CRLF and CR line ends, including a CRLF split across chunks', () => {
    // A stray blank line between the two data lines of "one\n1" would split that event in two.
    const crlf = 'data: one\r\ndata: 1\r\n\r\ndata: two\r\rdata: three\n\n';
    const expected = ['one\n1', 'two', 'three'];
    expect(feed([crlf]).messages.map((m) => m.data)).toEqual(expected);
    for (let cut = 1; cut < crlf.length; cut++) {
      expect(feed([crlf.slice(0, cut), crlf.slice(cut)]).messages.map((m) => m.data)).toEqual(expected);
    }
  });

  it('skips comments, ignores unknown fields, and does not dispatch an event without data', () => {
    const { messages, parser } = feed([': ping\n\n: another\nfoo: bar\nid: 7\n\nevent: alert\n\ndata\n\n']);
    expect(parser.comments).toBe(2);
    // `data` with no colon is a data line with an empty value: dispatched, unlike the data-less blocks.
    expect(messages).toEqual([{ event: 'message', data: '', id: '7' }]);
  });

  it('keeps the last id across events, takes only the first space off values, and reads retry', () => {
    const { messages, parser } = feed(['id: 9\ndata:  two spaces\n\ndata:x\n\nretry: 2500\nretry: soon\n']);
    expect(messages).toEqual([
      { event: 'message', data: ' two spaces', id: '9' },
      { event: 'message', data: 'x', id: '9' },
    ]);
    expect(parser.retryMs).toBe(2500);
    expect(parser.lastEventId).toBe('9');
  });

  it('commits an id only when its event ends, and ignores ids containing NUL', () => {
    const parser = new SseParser('5');
    parser.push('id: 6\ndata: half');
    expect(parser.lastEventId).toBe('5');
    parser.push('\n\nid: bad\0id\ndata: y\n\n');
    expect(parser.lastEventId).toBe('6');
  });

  it('parses changes and rejects other data', () => {
    expect(parseChange({ event: 'alert', id: '1', data: '{"id":"a","change":"created"}' })?.id).toBe('a');
    expect(parseChange({ event: 'alert', id: '1', data: '{"id":"a","change":"deleted"}' })).toBeNull();
    expect(parseChange({ event: 'alert', id: '1', data: 'not json' })).toBeNull();
  });
});

describe('openStream', () => {
  afterEach(() => vi.unstubAllGlobals());

  function body(text: string, close = true): ReadableStream<Uint8Array> {
    const bytes = new TextEncoder().encode(text);
    return new ReadableStream({
      start(c) {
        // Split inside a multi-byte character too: the decoder must carry it over.
        c.enqueue(bytes.slice(0, 7));
        c.enqueue(bytes.slice(7));
        if (close) c.close();
      },
    });
  }

  it('sends the key as a header, reconnects with Last-Event-ID, and stops on 401', async () => {
    const calls: Array<{ url: string; headers: Record<string, string> }> = [];
    const answers = [
      () => new Response(body('id: c1\nevent: alert\ndata: {"id":"é"}\n\n'), { status: 200 }),
      () => new Response('busy', { status: 429 }),
      () => new Response(body('id: c2\ndata: second\n\n'), { status: 200 }),
      () => new Response('{}', { status: 401 }),
    ];
    vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
      calls.push({ url, headers: init.headers as Record<string, string> });
      const next = answers.shift();
      if (!next) throw new Error('unexpected call');
      return next();
    });
    const messages: SseMessage[] = [];
    const states: StreamState[] = [];
    await openStream({
      key: () => 'k1',
      signal: new AbortController().signal,
      onMessage: (m) => messages.push(m),
      onState: (s) => states.push(s),
      backoff: { initialMs: 0, maxMs: 0 },
    });
    expect(messages.map((m) => m.data)).toEqual(['{"id":"é"}', 'second']);
    expect(calls.map((c) => c.headers['last-event-id'])).toEqual([undefined, 'c1', 'c1', 'c2']);
    expect(calls.every((c) => c.headers.authorization === 'Bearer k1' && !c.url.includes('k1'))).toBe(true);
    expect(states.at(-1)).toBe('stopped');
    expect(states).toContain('retrying');
  });

  it('stops when aborted while connected, and never starts without a key', async () => {
    const ctl = new AbortController();
    let fetched = 0;
    vi.stubGlobal('fetch', async (_url: string, init: RequestInit) => {
      fetched++;
      // A stream that stays open until the caller aborts.
      return new Response(
        new ReadableStream({
          start(c) {
            c.enqueue(new TextEncoder().encode('data: hello\n\n'));
            init.signal?.addEventListener('abort', () => c.error(new DOMException('aborted', 'AbortError')));
          },
        }),
      );
    });
    const done = openStream({
      key: () => 'k',
      signal: ctl.signal,
      onMessage: () => ctl.abort(),
      backoff: { initialMs: 0, maxMs: 0 },
    });
    await done;
    expect(fetched).toBe(1);

    await openStream({ key: () => null, signal: new AbortController().signal, onMessage: () => undefined });
    expect(fetched).toBe(1);
  });
});
