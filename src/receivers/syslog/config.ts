import { z } from 'zod';

/** Settings of the syslog receiver (`receivers.syslog`), validated once at start-up. */
export const SyslogReceiverConfig = z
  .strictObject({
    enabled: z
      .boolean()
      .default(false)
      .describe('Listen for syslog (also turned on by `aisoc serve --syslog[=port]`)'),
    host: z
      .string()
      .min(1)
      .default('127.0.0.1')
      .describe('Address to bind; 0.0.0.0 or :: to accept syslog from other hosts'),
    port: z
      .number()
      .int()
      .min(0)
      .max(65535)
      .default(5514)
      .describe('Port for both UDP and TCP (0 picks a free port; 514 needs privileges)'),
    protocols: z
      .array(z.enum(['udp', 'tcp']))
      .min(1)
      .default(['udp', 'tcp'])
      .refine((p) => new Set(p).size === p.length, 'must not name a protocol twice')
      .describe('Transports to listen on: udp (RFC 5426), tcp (RFC 6587)'),
    source: z
      .string()
      .default('syslog')
      .describe(
        'Source that normalises the messages (a line source; the syslog source also gets the peer address)',
      ),
    tcp_framing: z
      .enum(['auto', 'newline', 'octet-counting'])
      .default('auto')
      .describe(
        'TCP framing: auto detects per connection (a leading digit means octet counting, RFC 6587 §3.4.1; else LF-terminated lines)',
      ),
    max_message_bytes: z
      .number()
      .int()
      .min(480)
      .max(16 * 1024 * 1024)
      .default(64 * 1024)
      .describe('Longest message kept, in bytes (RFC 5424 receivers must accept 480 and should accept 2048)'),
    oversize: z
      .enum(['truncate', 'dead_letter'])
      .default('truncate')
      .describe(
        'A longer message is cut to max_message_bytes and stored, flagged unmapped.syslog.truncated_from_bytes (truncate), or dead-lettered with its size (dead_letter)',
      ),
    max_connections: z
      .number()
      .int()
      .min(1)
      .default(1024)
      .describe('Concurrent TCP connections; more are refused'),
    idle_timeout_ms: z
      .number()
      .int()
      .min(0)
      .default(300_000)
      .describe('A TCP connection that sends nothing for this long is closed, in ms (0: never)'),
    batch_lines: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(500)
      .describe('Messages submitted to the pipeline at once'),
    batch_wait_ms: z
      .number()
      .int()
      .min(1)
      .max(60_000)
      .default(200)
      .describe('Longest a message waits for its batch to fill before it is submitted, in ms'),
    buffer_lines: z
      .number()
      .int()
      .min(1)
      .default(20_000)
      .describe(
        'Messages held while the pipeline is busy; past this TCP connections are paused and UDP datagrams dropped (counted in aisoc_receiver_messages_total{outcome="dropped_overload"})',
      ),
    overload_retry_max_ms: z
      .number()
      .int()
      .min(10)
      .default(5_000)
      .describe('Longest wait before a batch the pipeline refused as overloaded is submitted again, in ms'),
    udp_receive_buffer_bytes: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe('Kernel receive buffer of the UDP socket (SO_RCVBUF), in bytes; 0 keeps the system default'),
    stop_timeout_ms: z
      .number()
      .int()
      .min(0)
      .default(10_000)
      .describe(
        'On shutdown, how long held messages may take to reach the pipeline before they are dropped, in ms',
      ),
  })
  .refine((c) => c.buffer_lines >= c.batch_lines, {
    message: 'buffer_lines must be at least batch_lines',
    path: ['buffer_lines'],
  })
  .describe('Syslog receiver: UDP and TCP listeners feeding the syslog source');

export type SyslogReceiverConfig = z.infer<typeof SyslogReceiverConfig>;
