import { z } from 'zod';
import { OcsfSeverityId, SeverityName, TechniqueId, Timestamp } from './common.ts';

/**
 * The normalised event: one schema for every telemetry source, aligned with
 * OCSF (class/category ids, `severity_id`, `actor`, `src_endpoint`,
 * `dst_endpoint`, `observables`, `metadata`, `unmapped`). Sources fill what
 * their format provides; `raw` keeps the original record, within the size
 * limits every event is held to at ingestion (`truncated` marks a cut).
 */

export const Endpoint = z
  .object({
    ip: z.string().optional().describe('IPv4 or IPv6 address'),
    port: z.number().int().min(0).max(65535).optional(),
    hostname: z.string().optional(),
    domain: z.string().optional().describe('Windows domain or DNS domain of the host'),
    mac: z.string().optional(),
    instance_uid: z.string().optional().describe('Cloud instance id (e.g. EC2 i-…)'),
    agent_uid: z.string().optional().describe('Id of the agent that reported (Wazuh agent id, sensor name)'),
    interface: z.string().optional(),
  })
  .describe('A network endpoint');
export type Endpoint = z.infer<typeof Endpoint>;

export const User = z
  .object({
    name: z.string().optional(),
    uid: z.string().optional().describe('Stable id (SID, principal id, uid)'),
    type: z.string().optional().describe('Root, IAMUser, AssumedRole, AWSService, User, Admin, System, …'),
    domain: z.string().optional(),
    account_uid: z.string().optional().describe('Cloud account the identity belongs to'),
    credential_uid: z.string().optional().describe('Credential used, e.g. an AWS access key id'),
    arn: z.string().optional(),
    session_uid: z.string().optional(),
    mfa: z.boolean().optional().describe('Whether the session was authenticated with MFA'),
  })
  .describe('A user or identity');
export type User = z.infer<typeof User>;

const ProcessCore = {
  pid: z.number().int().optional(),
  uid: z.string().optional().describe('Process GUID where the source has one'),
  name: z.string().optional(),
  path: z.string().optional(),
  cmd_line: z.string().optional(),
  integrity: z.string().optional(),
  user: z.string().optional(),
};

export const Process = z
  .object({
    ...ProcessCore,
    parent: z.object(ProcessCore).optional(),
    hashes: z.record(z.string(), z.string()).optional().describe('Algorithm → hex digest'),
  })
  .describe('A process');
export type Process = z.infer<typeof Process>;

export const File = z
  .object({
    path: z.string().optional(),
    name: z.string().optional(),
    size: z.number().optional(),
    mime_type: z.string().optional(),
    hashes: z.record(z.string(), z.string()).optional().describe('Algorithm → hex digest'),
  })
  .describe('A file');
export type File = z.infer<typeof File>;

export const Cloud = z
  .object({
    provider: z.string().optional().describe('aws, azure, gcp'),
    account_uid: z.string().optional(),
    region: z.string().optional(),
    service: z.string().optional().describe('Service name, e.g. iam.amazonaws.com'),
    operation: z.string().optional().describe('API operation, e.g. CreateAccessKey'),
    resource_uids: z.array(z.string()).optional().describe('ARNs or ids of the resources acted on'),
    user_agent: z.string().optional(),
    error_code: z.string().optional(),
    error_message: z.string().optional(),
    read_only: z.boolean().optional(),
  })
  .describe('Cloud API context');
export type Cloud = z.infer<typeof Cloud>;

export const Network = z
  .object({
    protocol: z.string().optional().describe('Transport protocol: tcp, udp, icmp, …'),
    app_protocol: z.string().optional().describe('Application protocol: http, dns, tls, ssh, …'),
    direction: z.enum(['inbound', 'outbound', 'lateral', 'local', 'unknown']).optional(),
    bytes_in: z.number().nonnegative().optional().describe('Bytes from destination to source'),
    bytes_out: z.number().nonnegative().optional().describe('Bytes from source to destination'),
    packets_in: z.number().nonnegative().optional(),
    packets_out: z.number().nonnegative().optional(),
    duration_ms: z.number().nonnegative().optional(),
    flow_uid: z.string().optional().describe('Flow or connection id (Suricata flow_id, Zeek uid)'),
    state: z.string().optional().describe('Connection state or TCP flags'),
  })
  .describe('Network connection details');
export type Network = z.infer<typeof Network>;

export const Http = z.object({
  method: z.string().optional(),
  url: z.string().optional(),
  hostname: z.string().optional(),
  user_agent: z.string().optional(),
  status_code: z.number().int().optional(),
  referrer: z.string().optional(),
});

export const Dns = z.object({
  query: z.string().optional(),
  qtype: z.string().optional(),
  rcode: z.string().optional(),
  answers: z.array(z.string()).optional(),
});

/** A verdict the source itself reached (Wazuh rule, Suricata signature, GuardDuty finding). */
export const UpstreamFinding = z
  .object({
    uid: z.string().optional().describe('Finding or rule id in the upstream product'),
    title: z.string(),
    product: z.string().optional(),
    severity: SeverityName,
    level: z.number().optional().describe('Native severity number of the upstream product'),
    tags: z.array(z.string()).default([]),
    techniques: z.array(TechniqueId).default([]),
    confidence: z.number().min(0).max(1).optional(),
  })
  .describe('A detection made by the upstream product that produced the event');
export type UpstreamFinding = z.infer<typeof UpstreamFinding>;

export const ObservableType = z.enum([
  'ip',
  'domain',
  'url',
  'hash',
  'user',
  'email',
  'host',
  'process',
  'file',
  'access_key',
  'account',
  'user_agent',
  'instance',
  'port',
  'other',
]);

export const Observable = z.object({
  type: ObservableType,
  value: z.string(),
  name: z.string().optional().describe('Field the value came from, e.g. src_endpoint.ip'),
});
export type Observable = z.infer<typeof Observable>;

export const EventStatus = z.enum(['success', 'failure', 'unknown']);

export const NormalisedEvent = z
  .object({
    id: z
      .uuid()
      .describe('Our id: derived from the source id when the source has one, so re-ingestion is idempotent'),
    source: z.string().describe('Source type that produced the event (cloudtrail, suricata, …)'),
    source_event_id: z
      .string()
      .optional()
      .describe("The source's own event id (CloudTrail eventID, Zeek uid, …)"),
    time: Timestamp.describe('When the event happened, per the source'),
    ingested_at: Timestamp.describe('When the product accepted the event'),
    class_uid: z.number().int().describe('OCSF class id, e.g. 6003 API Activity, 4001 Network Activity'),
    class_name: z.string(),
    category_uid: z.number().int().describe('OCSF category id, e.g. 6 Application Activity'),
    category_name: z.string(),
    activity_name: z
      .string()
      .optional()
      .describe('What happened, in the source vocabulary (eventName, event_type)'),
    severity_id: OcsfSeverityId.describe('OCSF severity id (0 Unknown … 6 Fatal)'),
    status: EventStatus.default('unknown'),
    status_detail: z.string().optional(),
    message: z.string().optional().describe('Human-readable summary or original log line'),
    actor: z
      .object({
        user: User.optional(),
        process: Process.optional(),
        invoked_by: z.string().optional().describe('Service that acted on behalf of the user'),
      })
      .optional(),
    src_endpoint: Endpoint.optional(),
    dst_endpoint: Endpoint.optional(),
    device: Endpoint.optional().describe('The host that reported the event'),
    process: Process.optional(),
    file: File.optional(),
    cloud: Cloud.optional(),
    network: Network.optional(),
    http: Http.optional(),
    dns: Dns.optional(),
    finding: UpstreamFinding.optional(),
    observables: z.array(Observable).default([]),
    metadata: z
      .object({
        product: z.string().optional(),
        vendor: z.string().optional(),
        version: z.string().optional(),
        log_name: z.string().optional().describe('Channel, log file or stream name'),
        event_code: z.string().optional().describe('Native event code (Windows EventID, Sysmon id)'),
      })
      .default({}),
    unmapped: z
      .record(z.string(), z.unknown())
      .optional()
      .describe('Source fields the schema has no place for'),
    truncated: z
      .boolean()
      .optional()
      .describe(
        'True when ingestion cut the event to size (absent otherwise): text above pipeline.max_field_bytes ends with "…[truncated: N bytes in all]", and a raw record (or unmapped fields) above pipeline.max_raw_bytes is kept as the start of its JSON text',
      ),
    raw: z
      .unknown()
      .describe(
        'The original record, kept once: unchanged unless `truncated` says it was cut to pipeline.max_field_bytes per field and pipeline.max_raw_bytes in all',
      ),
  })
  .describe('A normalised security event (OCSF-aligned)');

export type NormalisedEvent = z.infer<typeof NormalisedEvent>;
/**
 * What a source's normaliser returns: the event before the pipeline stamps ids and ingestion time.
 * A draft may carry `id`, `source` and `ingested_at` left undefined, last in its literal: the
 * slots finalizeEvent then fills (whatever a draft puts there is replaced), in the order it
 * would add them, so the object keeps its shape rather than growing by three properties per event.
 */
export type EventDraft = Omit<
  NormalisedEvent,
  'id' | 'ingested_at' | 'source' | 'observables' | 'metadata' | 'status'
> &
  Partial<Pick<NormalisedEvent, 'observables' | 'metadata' | 'status'>> & {
    id?: string;
    source?: string;
    ingested_at?: string;
  };

/** OCSF categories and classes the sources use. */
export const OCSF = {
  categories: {
    1: 'System Activity',
    2: 'Findings',
    3: 'Identity & Access Management',
    4: 'Network Activity',
    5: 'Discovery',
    6: 'Application Activity',
    0: 'Uncategorized',
  } as Record<number, string>,
  classes: {
    1001: 'File System Activity',
    1006: 'Scheduled Job Activity',
    1007: 'Process Activity',
    1008: 'Event Log Activity',
    1005: 'Module Activity',
    201001: 'Registry Key Activity',
    2001: 'Security Finding',
    2004: 'Detection Finding',
    3001: 'Account Change',
    3002: 'Authentication',
    3003: 'Authorize Session',
    3005: 'User Access Management',
    3006: 'Group Management',
    4001: 'Network Activity',
    4002: 'HTTP Activity',
    4003: 'DNS Activity',
    4004: 'DHCP Activity',
    4005: 'RDP Activity',
    4006: 'SMB Activity',
    4007: 'SSH Activity',
    4008: 'FTP Activity',
    4009: 'Email Activity',
    4010: 'Network File Activity',
    4014: 'Tunnel Activity',
    5001: 'Device Inventory Info',
    6001: 'Web Resources Activity',
    6002: 'Application Lifecycle',
    6003: 'API Activity',
    0: 'Base Event',
  } as Record<number, string>,
} as const;

/** Build the class/category quartet from a class id. */
export function ocsfClass(
  classUid: number,
): Pick<NormalisedEvent, 'class_uid' | 'class_name' | 'category_uid' | 'category_name'> {
  // Extension classes (e.g. Windows 201001) carry the extension id above 100000.
  const category = Math.floor((classUid % 100000) / 1000);
  return {
    class_uid: classUid,
    class_name: OCSF.classes[classUid] ?? 'Base Event',
    category_uid: category,
    category_name: OCSF.categories[category] ?? 'Uncategorized',
  };
}
