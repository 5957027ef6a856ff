import { z } from 'zod';

/**
 * Whether `text` is a server address the NATS client for Node can dial:
 * `nats://host:port`, `tls://host:port`, or `host:port` (read as nats://),
 * optionally with credentials; no path, query or fragment.
 */
export function isNatsServerUrl(text: string): boolean {
  let u: URL;
  try {
    u = new URL(text.includes('://') ? text : `nats://${text}`);
  } catch {
    return false;
  }
  if (u.protocol !== 'nats:' && u.protocol !== 'tls:') return false;
  if (u.hostname === '') return false;
  if (u.pathname !== '' && u.pathname !== '/') return false;
  return u.search === '' && u.hash === '';
}

const NatsServerUrl = z.string().refine(isNatsServerUrl, {
  message:
    'must be a NATS server address: nats://host:port or tls://host:port (host:port alone means nats://)',
});

/** `pipeline.nats`: the JetStream runner's settings. */
export const NatsRunnerConfig = z
  .strictObject({
    servers: z
      .array(NatsServerUrl)
      .min(1)
      .default(['nats://127.0.0.1:4222'])
      .describe(
        'NATS servers to connect to (any one of a cluster will do; the client learns the rest); env AISOC_NATS_URL, comma-separated',
      ),
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,32}$/, 'letters, digits, _ and - only, at most 32')
      .default('aisoc')
      .describe(
        'Names the subjects (<prefix>.events.<source>, <prefix>.stage.<stage>, <prefix>.dead.<stage>), the streams (<prefix>_events, <prefix>_stage_<stage>, <prefix>_dead) and the durable consumers (<prefix>-<stage>); deployments sharing a NATS account need different prefixes',
      ),
    replicas: z
      .number()
      .int()
      .min(1)
      .max(5)
      .default(1)
      .describe(
        'Copies of every stream (and its consumers) in a JetStream cluster; 3 survives the loss of one server (a single server takes only 1)',
      ),
    storage: z
      .enum(['file', 'memory'])
      .default('file')
      .describe(
        'Where the streams keep messages: file (survives a nats-server restart) or memory (lost with the server; for tests)',
      ),
    ack_wait_ms: z
      .number()
      .int()
      .min(1000)
      .default(30_000)
      .describe(
        'How long JetStream waits for a worker to acknowledge its first delivery of a message before delivering it again (to any worker), in ms; a worker reports progress every third of it while a batch runs, so only a dead or stalled worker is overtaken',
      ),
    backoff_ms: z
      .array(z.number().int().min(100))
      .max(20)
      .default([60_000, 300_000])
      .describe(
        'Waits before the third, fourth, … delivery, in ms (the last repeats): after a delivery that failed (the runner asks for it again after this wait) or was not acknowledged in time (JetStream redelivers after it); the wait after the first delivery is ack_wait_ms. Sent as the consumer backoff (nats-server 2.7.1 or later)',
      ),
    max_deliver: z
      .number()
      .int()
      .min(2)
      .default(10)
      .describe(
        'Deliveries of one message before it is given up: the last delivery is not processed but moved to the dead-letter subject and table with the reason, so a message that kills its worker each time still ends up there; more than backoff_ms has entries plus one',
      ),
    duplicate_window_ms: z
      .number()
      .int()
      .min(1000)
      .default(30 * 60_000)
      .describe(
        'How long a stream remembers message ids (Nats-Msg-Id: the event id, or the hash of a stage output) to drop a second copy, in ms: an event sent again, and the outputs of a batch processed again after a redelivery, within it are stored once; keep it longer than ack_wait_ms plus the backoff_ms waits',
      ),
    max_ack_pending: z
      .number()
      .int()
      .min(1)
      .default(20_000)
      .describe(
        'Messages of one stage delivered and not yet acknowledged, across every worker, before JetStream delivers no more (at least workers × 2 × pipeline.batch_size)',
      ),
    request_timeout_ms: z
      .number()
      .int()
      .min(100)
      .default(5_000)
      .describe(
        'Wait for a JetStream answer (a publish acknowledgement, stream or consumer information), in ms',
      ),
    connect_timeout_ms: z
      .number()
      .int()
      .min(100)
      .default(5_000)
      .describe(
        'Wait for the first connection at start-up, in ms; after that the client reconnects by itself, without limit',
      ),
    info_interval_ms: z
      .number()
      .int()
      .min(50)
      .default(1_000)
      .describe(
        'How often the runner reads its consumers’ state (the backlog that admission refuses on, the stats and checkpoints), in ms',
      ),
    max_batch_ms: z
      .number()
      .int()
      .min(1000)
      .default(5 * 60_000)
      .describe(
        'A batch still in its stage after this long stops reporting progress, so JetStream gives its messages to another worker, in ms',
      ),
    user: z
      .string()
      .min(1)
      .max(1024)
      .optional()
      .describe('User name to authenticate with (with password); env AISOC_NATS_USER'),
    password: z
      .string()
      .min(1)
      .max(4096)
      .optional()
      .describe(
        'Password of user; env AISOC_NATS_PASSWORD (the container reads AISOC_NATS_PASSWORD_FILE). Keep it out of the config file',
      ),
    token: z
      .string()
      .min(1)
      .max(4096)
      .optional()
      .describe('Authentication token; env AISOC_NATS_TOKEN (in the container, AISOC_NATS_TOKEN_FILE)'),
    nkey_seed_file: z
      .string()
      .min(1)
      .optional()
      .describe(
        'File holding the NKey seed (SU…) of a user the server knows by its public key; env AISOC_NATS_NKEY_SEED_FILE',
      ),
    creds_file: z
      .string()
      .min(1)
      .optional()
      .describe(
        'A credentials file (user JWT and NKey seed, as nsc writes it) for servers with decentralised (operator) authentication; env AISOC_NATS_CREDS_FILE',
      ),
    tls_ca_file: z
      .string()
      .min(1)
      .optional()
      .describe(
        'CA certificates (PEM) to verify tls:// servers with, instead of the system’s; env AISOC_NATS_CA_FILE',
      ),
    dead_letter_max_age_ms: z
      .number()
      .int()
      .min(60_000)
      .default(7 * 86_400_000)
      .describe(
        'How long the dead-letter stream keeps a message, in ms (the dead-letter table keeps its own copy under retention)',
      ),
  })
  .superRefine((c, ctx) => {
    if ((c.user === undefined) !== (c.password === undefined))
      ctx.addIssue({
        code: 'custom',
        path: [c.user === undefined ? 'user' : 'password'],
        message: 'user and password go together: set both or neither',
      });
    const ways = [
      c.user !== undefined && 'user/password',
      c.token !== undefined && 'token',
      c.nkey_seed_file !== undefined && 'nkey_seed_file',
      c.creds_file !== undefined && 'creds_file',
    ].filter((w): w is string => w !== false);
    if (ways.length > 1)
      ctx.addIssue({
        code: 'custom',
        path: [ways[1] === 'user/password' ? 'user' : ways[1]!],
        message: `one way to authenticate at a time: ${ways.join(' and ')} are both set`,
      });
    if (c.max_deliver <= c.backoff_ms.length + 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['max_deliver'],
        message: `must be more than the waits it uses: ${c.backoff_ms.length + 2} or more with ${c.backoff_ms.length} backoff_ms entries`,
      });
    }
  })
  .describe('The NATS JetStream runner (pipeline.runner: nats)');

export type NatsRunnerConfig = z.infer<typeof NatsRunnerConfig>;
