import { createSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/helpers/runtime.ts';
import { loadConfig } from '../../app-config.ts';
import { type RunningServer, startServer } from '../../cli/server.ts';
import type { Stage } from '../../pipeline/stage.ts';
import { openRuntime, type Runtime } from '../../runtime.ts';
import type { NormalisedEvent } from '../../schema/event.ts';
import { createMetrics } from '../../telemetry/metrics.ts';
import { type RunningReceivers, startReceivers } from '../index.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Poll `probe` until it gives a value. The deadline only turns a hang into a
 * message naming what never happened: it is far beyond any wait on a busy machine.
 */
async function until<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  what: string,
  ms = 100_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

function sendUdp(port: number, messages: Array<string | Buffer>): Promise<void> {
  const s = createSocket('udp4');
  return new Promise((resolve, reject) => {
    let left = messages.length;
    for (const m of messages) {
      s.send(typeof m === 'string' ? Buffer.from(m) : m, port, '127.0.0.1', (err) => {
        if (err) reject(err);
        if (--left === 0) {
          s.close();
          resolve();
        }
      });
    }
  });
}

function openTcp(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', noDelay: true }, () => resolve(s));
    s.on('error', reject);
  });
}

/** Write chunks as separate TCP segments (a pause between writes), then close. */
async function sendTcp(port: number, chunks: Array<string | Buffer>, gapMs = 15): Promise<void> {
  const s = await openTcp(port);
  for (const c of chunks) {
    await new Promise<void>((r) => s.write(c, () => r()));
    await sleep(gapMs);
  }
  await new Promise<void>((r) => s.end(r));
}

const octet = (msg: string) => `${Buffer.byteLength(msg)} ${msg}`;

async function metric(runtime: Runtime, name: string, labels: Record<string, string>): Promise<number> {
  const m = runtime.metrics.registry.getSingleMetric(name);
  if (!m) return 0;
  const values = (await m.get()).values;
  return values
    .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
    .reduce((a, v) => a + v.value, 0);
}

async function syslogEvents(runtime: Runtime): Promise<NormalisedEvent[]> {
  return (await runtime.store.events.list({ source: 'syslog', limit: 1000 })).items;
}

const byMessage = (events: NormalisedEvent[], needle: string) =>
  events.find((e) => e.message?.includes(needle));

describe('syslog receiver end to end (aisoc serve with receivers.syslog)', () => {
  const tmp = tempDir('aisoc-syslog-');
  let server: RunningServer;
  let port: number;

  beforeAll(async () => {
    const config = loadConfig({
      env: {},
      overrides: {
        data_dir: tmp.dir,
        log_level: 'silent',
        server: { port: 0, rate_limit_per_minute: 0 },
        receivers: { syslog: { enabled: true, port: 0, batch_wait_ms: 20, max_message_bytes: 4096 } },
        sources: { syslog: { timezone: 'UTC', year: 2026 } },
      },
    });
    server = await startServer(config);
    const addresses = server.receivers.addresses('syslog');
    expect(addresses.map((a) => a.protocol).sort()).toEqual(['tcp', 'udp']);
    port = addresses[0]!.port;
    expect(addresses.every((a) => a.port === port && port !== 0)).toBe(true);
  });

  afterAll(async () => {
    await server?.close();
    tmp.cleanup();
  });

  it('stores RFC 3164 and RFC 5424 messages sent over UDP with their fields and the sender', async () => {
    await sendUdp(port, [
      '<38>Mar  9 07:02:18 bastion-01 sshd[42103]: Failed password for invalid user oracle from 203.0.113.77 port 40112 ssh2',
      '<86>1 2026-03-09T08:15:33.412Z bastion-01 sshd 42517 - [origin ip="10.0.0.1"] Accepted publickey for deploy from 10.20.4.18 port 50322 ssh2',
    ]);
    const events = await until(async () => {
      const ev = await syslogEvents(server.runtime);
      return ev.filter(
        (e) => e.unmapped?.syslog && (e.unmapped.syslog as { transport?: string }).transport === 'udp',
      ).length >= 2
        ? ev
        : undefined;
    }, 'two UDP events');
    const failed = byMessage(events, 'Failed password')!;
    expect(failed).toMatchObject({
      class_uid: 3002,
      status: 'failure',
      time: '2026-03-09T07:02:18.000Z',
      actor: { user: { name: 'oracle' } },
      src_endpoint: { ip: '203.0.113.77', port: 40112 },
      device: { hostname: 'bastion-01' },
      process: { name: 'sshd', pid: 42103 },
      metadata: { log_name: 'sshd' },
    });
    expect(failed.unmapped).toMatchObject({
      auth: { kind: 'ssh_failed_password', invalid_user: true },
      syslog: { format: 'rfc3164', transport: 'udp', peer_ip: '127.0.0.1' },
    });
    const accepted = byMessage(events, 'Accepted publickey')!;
    expect(accepted.unmapped).toMatchObject({
      auth: { kind: 'ssh_accepted' },
      syslog: { format: 'rfc5424', structured_data: { origin: { ip: '10.0.0.1' } } },
    });
  });

  it('stores TCP messages framed by newlines, including one split across segments', async () => {
    const line =
      '<85>Mar  9 08:16:02 app-07 sudo:   deploy : TTY=pts/2 ; PWD=/srv ; USER=root ; COMMAND=/usr/bin/id';
    await sendTcp(port, [
      '<13>Mar  9 08:00:00 app-07 cron[1]: newline one\n<13>Mar  9 08:00:01 app-07 cron[1]: newline two\n',
      line.slice(0, 30),
      `${line.slice(30)}\n`,
      '<13>Mar  9 08:00:02 app-07 cron[1]: newline last without LF',
    ]);
    const events = await until(async () => {
      const ev = await syslogEvents(server.runtime);
      return byMessage(ev, 'newline last without LF') && byMessage(ev, 'COMMAND=/usr/bin/id')
        ? ev
        : undefined;
    }, 'TCP newline events');
    expect(byMessage(events, 'newline one')).toBeDefined();
    expect(byMessage(events, 'newline two')).toBeDefined();
    const sudo = byMessage(events, 'COMMAND=/usr/bin/id')!;
    expect(sudo.unmapped).toMatchObject({
      auth: { kind: 'sudo_command', command: '/usr/bin/id', target_user: 'root' },
      syslog: { transport: 'tcp' },
    });
    expect(sudo.actor?.user?.name).toBe('deploy');
  });

  it('stores octet-counted TCP frames: several in one segment and one split across segments', async () => {
    const a = '<34>1 2026-03-09T09:00:00Z h1 su - - - (to root) deploy on pts/2';
    const b = '<13>1 2026-03-09T09:00:01Z h1 app - - - octet two\nwith an embedded newline';
    const c = '<38>1 2026-03-09T09:00:02Z h1 sshd 77 - - Invalid user admin from 198.51.100.9 port 4242';
    const stream = octet(a) + octet(b) + octet(c);
    const cut = octet(a).length + octet(b).length + 12;
    await sendTcp(port, [stream.slice(0, cut), stream.slice(cut)]);
    const events = await until(async () => {
      const ev = await syslogEvents(server.runtime);
      return byMessage(ev, 'Invalid user admin') ? ev : undefined;
    }, 'octet-counted events');
    expect(byMessage(events, '(to root) deploy')!.unmapped).toMatchObject({ auth: { kind: 'su_success' } });
    expect(byMessage(events, 'octet two')!.message).toBe('octet two\nwith an embedded newline');
    expect(byMessage(events, 'Invalid user admin')).toMatchObject({
      src_endpoint: { ip: '198.51.100.9', port: 4242 },
      unmapped: { auth: { kind: 'ssh_invalid_user' } },
    });
  });

  it('survives garbage bytes and an oversize line, and keeps serving', async () => {
    const garbage = Buffer.from(Array.from({ length: 4000 }, (_, i) => (i * 7919) % 256));
    const before = (await server.runtime.store.deadLetters.list({ source: 'syslog' })).total;
    await sendUdp(port, [garbage, Buffer.from([0xff, 0xfe, 0x00, 0x0a])]);
    await sendTcp(port, [
      garbage,
      // The LF ends the garbage line, so the long line starts a line of its own.
      `\n<13>Mar  9 10:00:00 big app: ${'z'.repeat(20_000)}\n`,
      Buffer.from([0, 1, 2, 3, 10]),
    ]);
    await sendTcp(port, ['<13>Mar  9 10:00:01 after app: still serving\n']);
    const events = await until(async () => {
      const ev = await syslogEvents(server.runtime);
      return byMessage(ev, 'still serving') && byMessage(ev, 'zzzz') ? ev : undefined;
    }, 'the event sent after the garbage');
    const big = byMessage(events, 'zzzz')!;
    expect(big.unmapped?.syslog).toMatchObject({ truncated_from_bytes: 20_029 });
    expect(Buffer.byteLength(big.message!)).toBeLessThan(4096);
    const after = (await server.runtime.store.deadLetters.list({ source: 'syslog' })).total;
    expect(after).toBeGreaterThan(before);
    const health = await server.app.inject({ method: 'GET', url: '/health' });
    expect(health.statusCode).toBe(200);
  });
});

/** A stage that holds every batch until opened: the pipeline backs up like a slow detector. */
function gate() {
  let open!: () => void;
  let isOpen = false;
  let waiting = new Promise<void>((r) => {
    open = r;
  });
  const stage: Stage<NormalisedEvent, NormalisedEvent> = {
    name: 'gate',
    async process(batch) {
      await waiting;
      return { outputs: batch };
    },
  };
  return {
    stage,
    open: () => {
      isOpen = true;
      open();
    },
    // Closing a closed gate keeps its promise, so batches already waiting are let through by the next open.
    close: () => {
      if (!isOpen) return;
      isOpen = false;
      waiting = new Promise<void>((r) => {
        open = r;
      });
    },
  };
}

describe('syslog receiver under load and limits', () => {
  let runtime: Runtime;
  let receivers: RunningReceivers;
  let port: number;
  const g = gate();

  beforeAll(async () => {
    const config = loadConfig({
      env: {},
      overrides: {
        log_level: 'silent',
        pipeline: { queue_capacity: 10, batch_size: 5 },
        receivers: {
          syslog: {
            enabled: true,
            port: 0,
            batch_lines: 5,
            batch_wait_ms: 10,
            buffer_lines: 20,
            overload_retry_max_ms: 50,
            max_connections: 3,
            idle_timeout_ms: 300,
            max_message_bytes: 1024,
            oversize: 'dead_letter',
          },
        },
      },
    });
    runtime = await openRuntime(config, {
      inMemory: true,
      stages: [g.stage],
      metrics: createMetrics({ defaultMetrics: false }),
    });
    receivers = await startReceivers(config.receivers, runtime);
    port = receivers.addresses('syslog')[0]!.port;
  });

  afterAll(async () => {
    g.open();
    await receivers?.stop();
    await runtime?.close();
  });

  it('pauses TCP while the pipeline is full and stores every line once it drains', async () => {
    const lines = Array.from({ length: 60 }, (_, i) => `<13>Mar  9 11:00:00 h app: tcp load ${i}\n`);
    const sending = sendTcp(port, [lines.join('')], 0);
    // The buffer filling up and a batch refused by the full pipeline are separate events, in either order.
    await until(
      async () => (await metric(runtime, 'aisoc_receiver_backpressure_total', {})) >= 1,
      'back-pressure',
    );
    await until(
      async () => (await metric(runtime, 'aisoc_receiver_batches_total', { outcome: 'overloaded' })) > 0,
      'a batch refused as overloaded',
    );
    g.open();
    await sending;
    await until(
      async () => ((await runtime.store.events.count({ source: 'syslog' })) === 60 ? true : undefined),
      '60 events',
    );
    expect(await metric(runtime, 'aisoc_receiver_messages_total', { outcome: 'dropped_overload' })).toBe(0);
    await runtime.runner.drain(10_000);
  });

  it('drops UDP datagrams beyond its buffer while the pipeline is full, and counts them', async () => {
    g.close();
    const udp = (outcome: string) =>
      metric(runtime, 'aisoc_receiver_messages_total', { transport: 'udp', outcome });
    const before = await runtime.store.events.count({ source: 'syslog' });
    const acceptedBefore = await udp('accepted');
    const droppedBefore = await udp('dropped_overload');
    // Fill the pipeline to capacity first, so the datagrams below meet a full one.
    await sendUdp(
      port,
      Array.from({ length: 10 }, (_, i) => `<13>Mar  9 11:10:00 h app: fill ${i}`),
    );
    await until(
      async () =>
        (await runtime.store.events.count({ source: 'syslog' })) >= before + 10 ? true : undefined,
      'fill',
    );
    const sent = 10 + 100;
    for (let i = 0; i < 100; i += 10)
      await sendUdp(
        port,
        Array.from({ length: 10 }, (_, j) => `<13>Mar  9 11:10:01 h app: udp burst ${i + j}`),
      );
    // Every datagram is either taken into the buffer or dropped; wait until all are accounted for.
    await until(
      async () =>
        (await udp('accepted')) - acceptedBefore + (await udp('dropped_overload')) - droppedBefore === sent
          ? true
          : undefined,
      'every datagram accounted for',
    );
    const kept = (await udp('accepted')) - acceptedBefore;
    const dropped = (await udp('dropped_overload')) - droppedBefore;
    expect(dropped).toBeGreaterThan(0);
    g.open();
    await until(
      async () =>
        (await runtime.store.events.count({ source: 'syslog' })) === before + kept ? true : undefined,
      'the datagrams that were kept',
    );
    expect(kept).toBeGreaterThanOrEqual(10);
  });

  it('refuses connections past max_connections and closes idle ones', async () => {
    const open = await Promise.all([openTcp(port), openTcp(port), openTcp(port)]);
    const extra = await openTcp(port);
    const closed = await until(
      () =>
        new Promise<boolean | undefined>((r) =>
          extra.destroyed || extra.readableEnded ? r(true) : extra.once('close', () => r(true)),
        ),
      'the extra connection to be closed',
    );
    expect(closed).toBe(true);
    expect(await metric(runtime, 'aisoc_receiver_connections_total', { outcome: 'refused' })).toBeGreaterThan(
      0,
    );
    // Idle for longer than idle_timeout_ms: the receiver closes them.
    await until(
      () => (open.every((s) => s.destroyed || s.readableEnded) ? true : undefined),
      'idle connections to close',
      5000,
    );
    expect(
      await metric(runtime, 'aisoc_receiver_connections_total', { outcome: 'idle_timeout' }),
    ).toBeGreaterThanOrEqual(3);
    for (const s of [...open, extra]) s.destroy();
  });

  it('fails fast when the configured source does not exist or does not read lines', async () => {
    const base = { ...loadConfig({ env: {} }).receivers.syslog, enabled: true, port: 0 };
    await expect(startReceivers({ syslog: { ...base, source: 'nope' } }, runtime)).rejects.toThrow(
      /receivers\.syslog\.source/,
    );
    await expect(startReceivers({ syslog: { ...base, source: 'cloudtrail' } }, runtime)).rejects.toThrow(
      /does not read lines/,
    );
  });

  it('dead-letters an oversize message when configured to, with its size and the limit', async () => {
    await sendUdp(port, [`<13>Mar  9 12:00:00 h app: ${'q'.repeat(5000)}`]);
    const dl = await until(async () => {
      const list = await runtime.store.deadLetters.list({ stage: 'receive' });
      return list.items[0];
    }, 'the oversize dead letter');
    expect(dl).toMatchObject({
      source: 'syslog',
      stage: 'receive',
      code: 'AISOC_ERR_BODY_TOO_LARGE',
      field: 'receivers.syslog.max_message_bytes',
    });
    expect(dl.reason).toContain('5027 bytes');
    expect(dl.record.length).toBeLessThanOrEqual(1024);
  });
});

describe('syslog receiver configuration', () => {
  it('is off by default on port 5514 of the loopback address, and refuses unknown keys', () => {
    const c = loadConfig({ env: {} });
    expect(c.receivers.syslog).toMatchObject({
      enabled: false,
      host: '127.0.0.1',
      port: 5514,
      protocols: ['udp', 'tcp'],
    });
    expect(() => loadConfig({ env: {}, overrides: { receivers: { syslog: { prot: 1 } } } })).toThrow(
      /receivers\.syslog/,
    );
    expect(() =>
      loadConfig({ env: {}, overrides: { receivers: { syslog: { batch_lines: 100, buffer_lines: 10 } } } }),
    ).toThrow(/buffer_lines must be at least batch_lines/);
  });
});
