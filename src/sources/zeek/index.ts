import { z } from 'zod';
import { SeverityName } from '../../schema/common.ts';
import { HomeNet, HomeNetConfig } from '../suricata/network.ts';
import type { SourceFactory } from '../types.ts';
import { sniffZeek, zeekNormaliser } from './parse.ts';
import { frameZeek } from './tsv.ts';

export const ZeekConfig = z
  .strictObject({
    home_net: HomeNetConfig,
    skip_logs: z
      .array(z.string().min(1))
      .default(['stats', 'loaded_scripts'])
      .describe(
        'Zeek logs counted but not stored. Default: stats (engine counters, not traffic) and loaded_scripts (the sensor configuration; it has no timestamp)',
      ),
    notice_severity: z
      .record(z.string(), SeverityName)
      .default({})
      .describe(
        'Severity per notice type, e.g. {"SSL::Invalid_Server_Cert": "medium"}, over the built-in table',
      ),
    default_notice_severity: SeverityName.default('medium').describe(
      'Severity of notice types neither the built-in table nor notice_severity names',
    ),
  })
  .describe('Zeek logs: JSON (one object per line) or the default TSV with its header lines; gzip accepted');
export type ZeekConfig = z.infer<typeof ZeekConfig>;

/**
 * Zeek logs in JSON or TSV. The log type comes from `_path`/`#path` or is
 * inferred from the fields; conn, dns, http, ssl, ssh, notice, weird, files,
 * x509, rdp, smb_files, smb_mapping, kerberos and ntlm have specific
 * mappings, other logs keep their fields in `unmapped`. Notices become
 * detection findings.
 *
 * @example
 * const source = zeek.create(ZeekConfig.parse({}), { logger });
 * normaliseRecords(source, frameBody(readFileSync('conn.log', 'utf8'), source.framing), now);
 */
export const zeek: SourceFactory<ZeekConfig> = {
  type: 'zeek',
  description:
    'Zeek logs (JSON or TSV): conn, dns, http, ssl, ssh, notice, weird, files, x509, smb, kerberos, ntlm, …',
  verdicts: 'notice log records (Zeek notices, at the severity the source gives their type)',
  configSchema: ZeekConfig,
  create: (config) => ({
    type: 'zeek',
    // TSV data lines need the header lines before them: Zeek frames its own documents.
    framing: frameZeek,
    normalise: zeekNormaliser({
      homeNet: new HomeNet(config.home_net),
      skip: new Set(config.skip_logs),
      notice: { overrides: config.notice_severity, fallback: config.default_notice_severity },
    }),
  }),
  sniff: sniffZeek,
};
