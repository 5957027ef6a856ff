import { z } from 'zod';
import type { SourceFactory } from '../types.ts';
import { normaliseSyslog, sniffSyslog } from './parse.ts';
import { isValidTimeZone } from './time.ts';

export const SyslogConfig = z
  .strictObject({
    timezone: z
      .string()
      .default('UTC')
      .refine(isValidTimeZone, 'must be UTC, an offset such as +02:00, or an IANA zone such as Europe/Berlin')
      .describe(
        'Zone of timestamps that carry none (BSD/RFC 3164 and /var/log files): UTC, an offset such as +02:00, or an IANA zone name',
      ),
    year: z
      .number()
      .int()
      .min(1970)
      .max(9999)
      .optional()
      .describe(
        'Year of BSD timestamps, which carry none. Unset: the year that puts the line nearest to now and at most 7 days ahead (set it to replay files older than a year)',
      ),
  })
  .describe('Syslog lines: RFC 5424, RFC 3164 and /var/log files; Linux auth messages parsed');
export type SyslogConfig = z.infer<typeof SyslogConfig>;

/**
 * Syslog (RFC 5424, RFC 3164, and headerless /var/log lines), with sshd,
 * PAM, sudo, su, login and account-tool messages parsed into Authentication,
 * Account Change and Group Management events.
 */
export const syslog: SourceFactory<SyslogConfig> = {
  type: 'syslog',
  description: 'Syslog lines (RFC 5424, RFC 3164, /var/log/auth.log), Linux auth messages parsed',
  configSchema: SyslogConfig,
  create: (config) => {
    const opts = { timezone: config.timezone, year: config.year, now: () => new Date() };
    return { type: 'syslog', framing: 'lines', normalise: (record) => normaliseSyslog(record, opts) };
  },
  sniff: sniffSyslog,
};
