import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import nodemailer, { type SendMailOptions } from 'nodemailer';
import { z } from 'zod';
import { AisocError } from '../../../errors.ts';
import { baseConfigShape, defineAction, EnvVarName } from '../define.ts';
import { type RetryVerdict, withRetry } from '../retry.ts';
import type { RunContext } from '../types.ts';
import { readCa } from './endpoint.ts';
import { linkBaseUrl, linkFor, NotificationInput, oneLine, plainText } from './message.ts';

const Address = z.email('must be an e-mail address');

export const EmailConfig = z
  .strictObject({
    ...baseConfigShape,
    host: z.string().min(1).max(253).describe('SMTP server host name'),
    port: z
      .number()
      .int()
      .min(1)
      .max(65535)
      .default(587)
      .describe('SMTP port: 587 (submission, STARTTLS), 465 (implicit TLS), 25'),
    secure: z
      .boolean()
      .default(false)
      .describe('Implicit TLS from the first byte (port 465); otherwise see starttls'),
    starttls: z
      .enum(['required', 'opportunistic', 'never'])
      .default('required')
      .describe(
        'STARTTLS on a plain connection: required (refuse to send in clear), opportunistic, or never',
      ),
    username: z.string().min(1).max(256).optional().describe('SMTP AUTH user name; with password_env'),
    password_env: EnvVarName.optional().describe('Environment variable holding the SMTP AUTH password'),
    tls_reject_unauthorized: z
      .boolean()
      .default(true)
      .describe('Verify the server certificate (turn off only for a lab)'),
    ca_file: z
      .string()
      .optional()
      .describe('PEM file of the CA that signed the server certificate (a private CA)'),
    from: Address.describe('Sender address'),
    to: z.array(Address).min(1).max(50).describe('Recipients'),
    cc: z.array(Address).max(50).default([]).describe('Copy recipients'),
    subject_prefix: z.string().max(40).default('[AI-SOC]').describe('Prefix of every subject'),
    link_base_url: linkBaseUrl,
    connection_timeout_ms: z
      .number()
      .int()
      .min(100)
      .default(10_000)
      .describe('Time to connect, in milliseconds'),
    greeting_timeout_ms: z
      .number()
      .int()
      .min(100)
      .default(10_000)
      .describe('Time for the server greeting, in milliseconds'),
    socket_timeout_ms: z
      .number()
      .int()
      .min(100)
      .default(20_000)
      .describe('Idle time allowed on the connection, in milliseconds'),
  })
  .refine((c) => (c.username === undefined) === (c.password_env === undefined), {
    message: 'username and password_env go together',
    path: ['password_env'],
  })
  .describe('notify.email');

/** The nodemailer error fields classification reads. */
interface SmtpError {
  code?: string;
  responseCode?: number;
  command?: string;
}

function classify(err: unknown): RetryVerdict {
  const e = err as SmtpError;
  // 4xx replies are transient by definition (RFC 5321); connection trouble is worth another try too.
  if (e.responseCode !== undefined && e.responseCode >= 400 && e.responseCode < 500)
    return { retry: true, reason: 'server_error' };
  if (e.code === 'ECONNECTION' || e.code === 'ETIMEDOUT' || e.code === 'ESOCKET')
    return { retry: true, reason: 'network' };
  return { retry: false };
}

function mapError(err: unknown): AisocError {
  const e = err as SmtpError;
  const details = {
    smtp_code: e.code ?? null,
    smtp_response_code: e.responseCode ?? null,
    smtp_command: e.command ?? null,
  };
  if (e.code === 'EAUTH')
    return new AisocError('AISOC_ERR_ACTION_ACCESS_DENIED', 'The SMTP server refused the login', { details });
  if (e.code === 'ETLS')
    return new AisocError('AISOC_ERR_ACTION_FAILED', 'TLS with the SMTP server failed', { details });
  return new AisocError('AISOC_ERR_ACTION_FAILED', `Sending the e-mail failed: ${(err as Error).message}`, {
    details,
  });
}

/**
 * `notify.email`: sends a plain-text e-mail over SMTP (implicit TLS, or
 * STARTTLS required by default, with AUTH when configured). The Message-ID
 * derives from the run's idempotency key, so a retried send can be spotted
 * as the same message. Recipients come only from config.
 *
 * @example
 * await emailFactory.create({ host: 'smtp.example.com', from: 'soc@example.com', to: ['oncall@example.com'] }, ctx)
 *   .execute({ title: 'Root login', summary: '…', severity: 'critical' }, opts);
 */
export const emailFactory = defineAction({
  type: 'notify.email',
  description: 'Send an e-mail about an incident over SMTP (STARTTLS/implicit TLS, optional AUTH)',
  effect: 'read-only',
  configSchema: EmailConfig,
  inputSchema: NotificationInput,
  build(config, ctx) {
    const password = config.password_env ? ctx.secret(config.password_env, 'password_env') : undefined;
    const ca = readCa(config.ca_file, 'ca_file');
    const fromDomain = config.from.split('@')[1] ?? 'aisoc.invalid';

    async function send(run: RunContext, message: SendMailOptions) {
      const transport = nodemailer.createTransport({
        host: config.host,
        port: config.port,
        secure: config.secure,
        requireTLS: !config.secure && config.starttls === 'required',
        ignoreTLS: !config.secure && config.starttls === 'never',
        ...(config.username ? { auth: { user: config.username, pass: password } } : {}),
        tls: {
          rejectUnauthorized: config.tls_reject_unauthorized,
          // SNI carries host names only (RFC 6066); an IP address is checked against the certificate's IP SANs.
          ...(isIP(config.host) ? {} : { servername: config.host }),
          ...(ca ? { ca } : {}),
        },
        connectionTimeout: config.connection_timeout_ms,
        greetingTimeout: config.greeting_timeout_ms,
        socketTimeout: config.socket_timeout_ms,
        // The message is built here; nodemailer must not read files or fetch URLs for it.
        disableFileAccess: true,
        disableUrlAccess: true,
      });
      // nodemailer takes no AbortSignal: on abort, close the connection and stop waiting.
      let onAbort: (() => void) | undefined;
      try {
        return await new Promise<{ messageId?: string; accepted?: unknown[]; rejected?: unknown[] }>(
          (resolve, reject) => {
            onAbort = () => {
              transport.close();
              reject(run.signal.reason);
            };
            run.signal.addEventListener('abort', onAbort, { once: true });
            transport.sendMail(message).then(resolve, reject);
          },
        );
      } finally {
        if (onAbort) run.signal.removeEventListener('abort', onAbort);
        transport.close();
      }
    }

    return {
      async execute(input, run) {
        const subject = oneLine(
          `${config.subject_prefix} [${input.severity.toUpperCase()}] ${input.title}`,
          200,
        );
        const digest = createHash('sha256').update(run.idempotencyKey).digest('hex').slice(0, 32);
        const message: SendMailOptions = {
          from: config.from,
          to: config.to,
          ...(config.cc.length > 0 ? { cc: config.cc } : {}),
          subject,
          text: plainText(input, linkFor(input, config.link_base_url)),
          messageId: `<aisoc.${digest}@${fromDomain}>`,
          headers: {
            'X-AISOC-Severity': input.severity,
            ...(input.incident_id ? { 'X-AISOC-Incident': input.incident_id } : {}),
          },
        };
        const details = {
          from: config.from,
          to: config.to,
          cc: config.cc,
          subject,
          message_id: message.messageId,
        };
        if (run.dryRun)
          return {
            status: 'dry_run',
            summary: `Would e-mail "${subject}" to ${config.to.join(', ')}.`,
            details: { ...details, text: message.text },
          };
        run.assertMayMutate('SMTP send');
        try {
          const info = await withRetry(() => send(run, message), {
            policy: run.retry,
            signal: run.signal,
            classify,
          });
          if ((info.rejected?.length ?? 0) > 0 && (info.accepted?.length ?? 0) === 0)
            throw new AisocError('AISOC_ERR_ACTION_FAILED', 'The SMTP server refused every recipient', {
              details: { rejected: info.rejected },
            });
          const refused = (info.rejected ?? []).map(String);
          return {
            status: 'succeeded',
            summary: `E-mailed "${subject}" to ${config.to.join(', ')}${refused.length > 0 ? ` (refused by the server: ${refused.join(', ')})` : ''}.`,
            details: { ...details, accepted: info.accepted ?? [], rejected: info.rejected ?? [] },
          };
        } catch (err) {
          if (run.signal.aborted || err instanceof AisocError) throw err;
          throw mapError(err);
        }
      },
    };
  },
});
