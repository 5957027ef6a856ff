import { z } from 'zod';

/** `server`: the HTTP API server's settings. */
export const ServerConfig = z
  .strictObject({
    host: z.string().default('127.0.0.1').describe('Address the HTTP server binds to'),
    port: z.number().int().min(0).max(65535).default(8080).describe('HTTP port (0 picks a free port)'),
    body_limit_bytes: z
      .number()
      .int()
      .min(1024)
      .default(16 * 1024 * 1024)
      .describe('Largest request body accepted, compressed, in bytes'),
    decompressed_limit_bytes: z
      .number()
      .int()
      .min(1024)
      .default(128 * 1024 * 1024)
      .describe('Largest body after gzip/deflate decompression, in bytes (gzip-bomb guard)'),
    rate_limit_per_minute: z
      .number()
      .int()
      .min(0)
      .default(12_000)
      .describe('Requests per minute per API key (or per IP without a key); 0 disables'),
    unauthenticated_rate_limit_per_minute: z
      .number()
      .int()
      .min(0)
      .default(120)
      .describe(
        'Requests per minute per client address that fail authentication (no key, an unknown or revoked key, a key without the scope); past it they get 429 until the minute ends, while valid keys from that address are still served. 0 disables',
      ),
    trust_proxy: z.boolean().default(false).describe('Trust X-Forwarded-For from a reverse proxy'),
    request_timeout_ms: z.number().int().min(0).default(120_000).describe('Time allowed for one request'),
    stream_poll_ms: z
      .number()
      .int()
      .min(50)
      .max(60_000)
      .default(1000)
      .describe(
        'How often the one poller of GET /stream reads alerts and incidents changed since its cursor, in ms; every open stream is fed from that read',
      ),
    stream_max_clients: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(100)
      .describe(
        'Open GET /stream connections allowed at once; past it a new stream is refused with 429 AISOC_ERR_OVERLOADED',
      ),
  })
  .describe('HTTP API server');
export type ServerConfig = z.infer<typeof ServerConfig>;
