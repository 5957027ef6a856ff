import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv6, type Server, type Socket } from 'node:net';
import { AisocError, describeError } from '../../errors.ts';
import type { FramedRecord } from '../../sources/framing.ts';
import type { SyslogEnvelope } from '../../sources/syslog/parse.ts';
import { LineBatcher } from '../batcher.ts';
import { type ReceiverMetrics, receiverMetrics } from '../metrics.ts';
import type { Receiver, ReceiverAddress, ReceiverContext, ReceiverFactory } from '../types.ts';
import { SyslogReceiverConfig } from './config.ts';
import { type Frame, SyslogStreamFramer } from './framer.ts';

/** Bytes of an oversize message kept in its dead letter, so a person can see what it was. */
const DEAD_LETTER_PREVIEW_BYTES = 1024;
/** Attempts to find a port free for both UDP and TCP when the configured port is 0. */
const EPHEMERAL_ATTEMPTS = 8;

type Transport = 'udp' | 'tcp';

/**
 * The syslog receiver: UDP (one message per datagram, RFC 5426) and TCP
 * (RFC 6587 octet counting or LF framing, detected per connection) on one
 * port, feeding the syslog source in batches. Bounded everywhere: message
 * size, connections, idle time, and lines held; when the pipeline is full TCP
 * connections are paused (the senders' buffers fill, which is TCP's own
 * back-pressure) and UDP datagrams beyond the buffer are dropped and counted.
 */
class SyslogReceiver implements Receiver {
  readonly type = 'syslog';
  private tcp: Server | undefined;
  private udp: UdpSocket | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly paused = new Set<Socket>();
  private readonly batcher: LineBatcher;
  private readonly m: ReceiverMetrics;
  private readonly bound: ReceiverAddress[] = [];
  private readonly envelope: boolean;
  private stopping = false;

  constructor(
    private readonly config: SyslogReceiverConfig,
    private readonly ctx: ReceiverContext,
  ) {
    // Fails fast, at start-up, when the configured source does not exist or does not read lines.
    let source: ReturnType<ReceiverContext['sources']['get']>;
    try {
      source = ctx.sources.get(config.source);
    } catch (err) {
      throw new AisocError('AISOC_ERR_CONFIG', `receivers.syslog.source: ${describeError(err)}`, {
        field: 'receivers.syslog.source',
      });
    }
    if (source.framing !== 'lines') {
      throw new AisocError(
        'AISOC_ERR_CONFIG',
        `receivers.syslog.source: the ${config.source} source does not read lines, so it cannot take syslog messages`,
        { field: 'receivers.syslog.source' },
      );
    }
    this.envelope = config.source === 'syslog';
    this.m = receiverMetrics(ctx.metrics);
    const labels = { receiver: 'syslog' };
    this.batcher = new LineBatcher({
      batchLines: config.batch_lines,
      batchWaitMs: config.batch_wait_ms,
      bufferLines: config.buffer_lines,
      overloadRetryMaxMs: config.overload_retry_max_ms,
      submit: async (records) => {
        await ctx.ingest.ingestFramed(ctx.sources.get(config.source), records);
      },
      submitDeadLetters: async (items) => {
        await ctx.runner.submit({ events: [], deadLetters: items });
      },
      onPressure: (on) => this.onPressure(on),
      onDrop: (n, reason) => this.m.messages.inc({ ...labels, transport: 'any', outcome: reason }, n),
      onBatch: (outcome) => this.m.batches.inc({ ...labels, outcome }),
      onBuffered: (n) => this.m.buffered.set(labels, n),
      logger: ctx.logger,
    });
  }

  addresses(): ReceiverAddress[] {
    return [...this.bound];
  }

  async start(): Promise<void> {
    const { host, port, protocols } = this.config;
    const wantTcp = protocols.includes('tcp');
    const wantUdp = protocols.includes('udp');
    for (let attempt = 1; ; attempt++) {
      try {
        const tcpPort = wantTcp ? await this.listenTcp(host, port) : port;
        // With port 0, UDP takes the port TCP was given, so one port serves both.
        if (wantUdp) await this.bindUdp(host, wantTcp ? tcpPort : port);
        break;
      } catch (err) {
        await this.closeListeners();
        this.bound.length = 0;
        const inUse = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
        if (port === 0 && inUse && attempt < EPHEMERAL_ATTEMPTS) continue;
        throw new AisocError(
          'AISOC_ERR_CONFIG',
          `The syslog receiver cannot listen on ${host}:${port}: ${describeError(err)}`,
          { field: 'receivers.syslog.port', cause: err },
        );
      }
    }
    this.ctx.logger.info(
      { addresses: this.bound.map((a) => `${a.protocol}://${a.host}:${a.port}`) },
      'The syslog receiver is listening.',
    );
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    // Stop taking new data first, then hand what is held to the pipeline.
    const closing = this.closeListeners();
    for (const s of this.sockets) s.destroy();
    await closing;
    await this.batcher.stop(this.config.stop_timeout_ms);
    this.ctx.logger.info('The syslog receiver stopped.');
  }

  // ------------------------------------------------------------------ TCP

  private listenTcp(host: string, port: number): Promise<number> {
    const server = createServer({ noDelay: true }, (socket) => this.onConnection(socket));
    server.maxConnections = this.config.max_connections;
    server.on('drop', () => this.m.connectionEvents.inc({ receiver: 'syslog', outcome: 'refused' }));
    this.tcp = server;
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      server.once('error', onError);
      server.listen({ host, port }, () => {
        server.off('error', onError);
        server.on('error', (err) =>
          this.ctx.logger.error({ err: describeError(err) }, 'The syslog TCP listener failed.'),
        );
        const addr = server.address();
        const bound = typeof addr === 'object' && addr ? addr.port : port;
        this.bound.push({ protocol: 'tcp', host, port: bound });
        resolve(bound);
      });
    });
  }

  private onConnection(socket: Socket): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    const labels = { receiver: 'syslog' };
    this.sockets.add(socket);
    this.m.connections.set(labels, this.sockets.size);
    this.m.connectionEvents.inc({ ...labels, outcome: 'accepted' });
    const framer = new SyslogStreamFramer({
      framing: this.config.tcp_framing,
      maxMessageBytes: this.config.max_message_bytes,
    });
    const peer = { ip: socket.remoteAddress, port: socket.remotePort };
    if (this.config.idle_timeout_ms > 0) socket.setTimeout(this.config.idle_timeout_ms);
    socket.on('timeout', () => {
      // A connection we paused is silent because of us, not the sender.
      if (this.paused.has(socket)) return;
      this.m.connectionEvents.inc({ ...labels, outcome: 'idle_timeout' });
      socket.destroy();
    });
    socket.on('data', (chunk: Buffer) => {
      this.m.bytes.inc({ ...labels, transport: 'tcp' }, chunk.length);
      const out = framer.push(chunk);
      if (out.framingError) this.onFramingError(out.framingError, peer.ip);
      const receivedAt = new Date().toISOString();
      this.acceptAll(out.frames, 'tcp', peer, receivedAt);
      if (this.batcher.pressure) this.pause(socket);
    });
    socket.on('end', () => {
      const out = framer.end();
      if (out.framingError) this.onFramingError(out.framingError, peer.ip);
      const receivedAt = new Date().toISOString();
      this.acceptAll(out.frames, 'tcp', peer, receivedAt);
      socket.end();
    });
    socket.on('error', () => {
      // Resets and broken pipes are the peer's business; the connection is simply gone.
      this.m.connectionEvents.inc({ ...labels, outcome: 'error' });
    });
    socket.on('close', () => {
      this.sockets.delete(socket);
      this.paused.delete(socket);
      this.m.connections.set(labels, this.sockets.size);
    });
  }

  private pause(socket: Socket): void {
    if (this.paused.has(socket) || socket.destroyed) return;
    socket.pause();
    this.paused.add(socket);
  }

  private onPressure(on: boolean): void {
    if (on) {
      this.m.pauses.inc({ receiver: 'syslog' });
      for (const s of this.sockets) this.pause(s);
      return;
    }
    for (const s of this.paused) if (!s.destroyed) s.resume();
    this.paused.clear();
  }

  private onFramingError(why: string, ip: string | undefined): void {
    this.m.framingErrors.inc({ receiver: 'syslog' });
    this.ctx.logger.debug(
      { peer: ip, why },
      'A syslog TCP stream broke its framing; it continues as LF-framed.',
    );
  }

  // ------------------------------------------------------------------ UDP

  private bindUdp(host: string, port: number): Promise<void> {
    const socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4' });
    this.udp = socket;
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      socket.once('error', onError);
      socket.bind({ address: host, port }, () => {
        socket.off('error', onError);
        socket.on('error', (err) =>
          this.ctx.logger.error({ err: describeError(err) }, 'The syslog UDP socket reported an error.'),
        );
        if (this.config.udp_receive_buffer_bytes > 0) {
          try {
            socket.setRecvBufferSize(this.config.udp_receive_buffer_bytes);
          } catch (err) {
            this.ctx.logger.warn(
              { err: describeError(err) },
              'The UDP receive buffer size could not be set.',
            );
          }
        }
        this.bound.push({ protocol: 'udp', host, port: socket.address().port });
        socket.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo.address, rinfo.port));
        resolve();
      });
    });
  }

  private onDatagram(msg: Buffer, ip: string, port: number): void {
    this.m.bytes.inc({ receiver: 'syslog', transport: 'udp' }, msg.length);
    if (this.stopping) return;
    // A UDP sender cannot be slowed down: past the buffer, datagrams are dropped and counted.
    if (this.batcher.full) {
      this.m.messages.inc({ receiver: 'syslog', transport: 'udp', outcome: 'dropped_overload' });
      return;
    }
    // One message per datagram (RFC 5426); trailing line ends are framing.
    let end = msg.length;
    while (end > 0 && (msg[end - 1] === 0x0a || msg[end - 1] === 0x0d || msg[end - 1] === 0x00)) end--;
    if (end === 0) return;
    const frame: Frame =
      end > this.config.max_message_bytes
        ? { data: msg.subarray(0, this.config.max_message_bytes), truncatedFrom: end }
        : { data: msg.subarray(0, end) };
    this.acceptAll([frame], 'udp', { ip, port }, new Date().toISOString());
  }

  // ------------------------------------------------------------ messages

  /** Hand frames to the batcher; the accepted count goes to the metric once per chunk, not per message. */
  private acceptAll(
    frames: Frame[],
    transport: Transport,
    peer: { ip: string | undefined; port: number | undefined },
    receivedAt: string,
  ): void {
    let accepted = 0;
    for (const f of frames) if (this.accept(f, transport, peer, receivedAt)) accepted++;
    if (accepted > 0) this.m.messages.inc({ receiver: 'syslog', transport, outcome: 'accepted' }, accepted);
  }

  /** One message into the batcher (true), or into a dead letter when oversize and so configured (false). */
  private accept(
    frame: Frame,
    transport: Transport,
    peer: { ip: string | undefined; port: number | undefined },
    receivedAt: string,
  ): boolean {
    const labels = { receiver: 'syslog', transport };
    const text = frame.data.toString('utf8');
    if (frame.truncatedFrom !== undefined) {
      if (this.config.oversize === 'dead_letter') {
        this.m.messages.inc({ ...labels, outcome: 'oversize' });
        this.batcher.pushDeadLetter({
          source: this.config.source,
          stage: 'receive',
          code: 'AISOC_ERR_BODY_TOO_LARGE',
          reason: `A syslog message of ${frame.truncatedFrom} bytes from ${peer.ip ?? 'an unknown peer'} over ${transport} exceeds receivers.syslog.max_message_bytes (${this.config.max_message_bytes}); its first ${DEAD_LETTER_PREVIEW_BYTES} bytes are kept`,
          field: 'receivers.syslog.max_message_bytes',
          record: frame.data.subarray(0, DEAD_LETTER_PREVIEW_BYTES).toString('utf8'),
        });
        return false;
      }
      this.m.messages.inc({ ...labels, outcome: 'truncated' });
    }
    let value: unknown = text;
    if (this.envelope) {
      const env: SyslogEnvelope = { message: text, transport, received_at: receivedAt };
      if (peer.ip) env.peer_ip = peer.ip.startsWith('::ffff:') ? peer.ip.slice(7) : peer.ip;
      if (peer.port !== undefined) env.peer_port = peer.port;
      if (frame.truncatedFrom !== undefined) env.truncated_from_bytes = frame.truncatedFrom;
      value = env;
    }
    const record: FramedRecord = { value };
    this.batcher.push(record);
    return true;
  }

  private async closeListeners(): Promise<void> {
    const tcp = this.tcp;
    const udp = this.udp;
    this.tcp = undefined;
    this.udp = undefined;
    await Promise.all([
      tcp ? new Promise<void>((resolve) => tcp.close(() => resolve())) : undefined,
      udp
        ? new Promise<void>((resolve) => {
            try {
              udp.close(() => resolve());
            } catch {
              resolve();
            }
          })
        : undefined,
    ]);
  }
}

/**
 * The syslog receiver factory.
 *
 * @example
 * const r = syslogReceiver.create(SyslogReceiverConfig.parse({ enabled: true, port: 0 }), ctx);
 * await r.start();
 * r.addresses(); // [{ protocol: 'tcp', host: '127.0.0.1', port: 40123 }, { protocol: 'udp', … }]
 */
export const syslogReceiver: ReceiverFactory<SyslogReceiverConfig> = {
  type: 'syslog',
  description: 'Syslog over UDP and TCP (RFC 5426, RFC 6587), into the syslog source',
  configSchema: SyslogReceiverConfig,
  create: (config, ctx) => new SyslogReceiver(config, ctx),
};
