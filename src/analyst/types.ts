import type { Alert } from '../schema/alert.ts';
import type { NormalisedEvent } from '../schema/event.ts';
import type { Incident } from '../schema/incident.ts';
import type { SecurityAlert } from '../schema/verdict.ts';
import type { AssetContext } from './priority.ts';

/** What the analyst needs from the knowledge base (ATT&CK, runbooks, the text→technique mapper). */
export interface AnalystKnowledge {
  technique(id: string):
    | {
        id: string;
        name: string;
        tactics: string[];
        url: string;
        mitigations: Array<{ id: string; name: string; text: string }>;
      }
    | undefined;
  mapText(text: string, topK: number): Promise<Array<{ technique_id: string; name: string; score: number }>>;
  retrieve(query: string, collection: string, topK: number): Promise<Passage[]>;
  /** ATT&CK release label, for references. */
  label(): string;
  /**
   * A version of everything retrieval can return (ATT&CK release, collections,
   * embeddings, mapper): part of the verdict cache key, so a verdict written
   * with other knowledge is not reused.
   */
  version(): string;
}

/** A retrieved passage as the analyst cites it. */
export interface Passage {
  id: string;
  title: string;
  text: string;
  score: number;
  collection: string;
  url?: string;
}

/**
 * Where a record keeps each role, as a field path: the checker verifies
 * cited fields exist, so evidence must use the record's real paths.
 */
export interface FieldRoles {
  src_ip?: string;
  dst_ip?: string;
  src_port?: string;
  dst_port?: string;
  user?: string;
  host?: string;
  process?: string;
  command?: string;
  file?: string;
  operation?: string;
  service?: string;
  access_key?: string;
  account?: string;
  message?: string;
  status?: string;
  user_agent?: string;
}

/** One record the analyst reads and cites. */
export interface EvidenceRecord {
  id: string;
  record: Record<string, unknown>;
  roles: FieldRoles;
}

/** Everything the analyst is told about what it analyses. */
export interface AnalysisInput {
  /** Id the verdict is about (alert id, incident id, or the submitted alert_id). */
  subject_id: string;
  subject_type: 'alert' | 'incident' | 'adhoc';
  alert: Alert;
  incident?: Incident;
  /** Alerts in the incident (itself included), for correlation. */
  incident_size: number;
  records: EvidenceRecord[];
  /** The submitted SecurityAlert for `POST /analyze`. */
  submitted?: SecurityAlert;
  assets: AssetContext;
}

/** Retrieved context that reaches the analyst (and the LLM prompt) before it answers. */
export interface RetrievedContext {
  techniques: Array<{
    id: string;
    name: string;
    tactics: string[];
    url: string;
    source: 'rule' | 'mapper';
    score?: number;
  }>;
  attack: Passage[];
  runbooks: Passage[];
  mitigations: Array<{ technique: string; id: string; name: string; text: string }>;
}

export const EVENT_ROLES: FieldRoles = {
  src_ip: 'src_endpoint.ip',
  dst_ip: 'dst_endpoint.ip',
  src_port: 'src_endpoint.port',
  dst_port: 'dst_endpoint.port',
  user: 'actor.user.name',
  host: 'device.hostname',
  process: 'process.path',
  command: 'process.cmd_line',
  file: 'file.path',
  operation: 'cloud.operation',
  service: 'cloud.service',
  access_key: 'actor.user.credential_uid',
  account: 'cloud.account_uid',
  message: 'message',
  status: 'status',
  user_agent: 'cloud.user_agent',
};

export const SECURITY_ALERT_ROLES: FieldRoles = {
  src_ip: 'source_ip',
  dst_ip: 'dest_ip',
  src_port: 'source_port',
  dst_port: 'dest_port',
  user: 'user',
  host: 'source_hostname',
  process: 'process',
  command: 'command',
  file: 'file_path',
  message: 'rule_description',
};

export type { NormalisedEvent };
