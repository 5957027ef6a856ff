import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, Provider, SourceData } from '@smithy/types';
import { z } from 'zod';
import { loadAwsSdk } from '../aws-sdk.ts';
import { AisocError } from '../errors.ts';
import { awsEnv } from './env.ts';
import { DynamoRecords } from './records.ts';
import { parseInput } from './subject.ts';

/**
 * The last two states: Store writes the execution's outcome (score,
 * verdict, plan, remediations) to the records table and the audit trail;
 * Index puts the same document into the OpenSearch Serverless collection,
 * for investigation, signed with SigV4 (service `aoss`).
 */

/** The state's input: the execution id and the whole state (`{ execution.$: $$.Execution.Id, state.$: $ }`). */
export const OutcomeInput = z.object({
  execution: z.string().min(1),
  state: z.object({
    subject: z.object({ type: z.literal('incident'), id: z.string() }),
    score: z.object({ priority: z.number() }).passthrough(),
    analysis: z.record(z.string(), z.unknown()).optional(),
    remediations: z.array(z.unknown()).optional(),
  }),
});

export type Outcome = z.infer<typeof OutcomeInput>['state'] & { execution: string };

function outcomeOf(input: unknown): Outcome {
  const { execution, state } = parseInput(OutcomeInput, input);
  return { ...state, execution };
}

/** The document stored and indexed for one execution. */
export function outcomeDocument(o: Outcome, at: string): Record<string, unknown> {
  return {
    id: `${o.subject.id}-${o.execution.split(':').pop()}`,
    incident_id: o.subject.id,
    execution: o.execution,
    at,
    priority: o.score.priority,
    analysed: o.analysis !== undefined,
    ...(o.analysis ? { analysis: o.analysis } : {}),
    remediations: o.remediations ?? [],
  };
}

export function createStoreHandler(deps: { records: DynamoRecords; now?: () => Date }) {
  return async (input: unknown) => {
    const o = outcomeOf(input);
    const at = (deps.now ?? (() => new Date()))().toISOString();
    const doc = outcomeDocument(o, at);
    await deps.records.results.put(o.subject.id, o.execution, doc);
    await deps.records.audit.append({
      actor: 'aws:state-machine',
      action: 'triage.completed',
      target_type: 'incident',
      target_id: o.subject.id,
      reason: o.analysis
        ? `priority ${o.score.priority}: analysed`
        : `priority ${o.score.priority}: stored below the threshold`,
      details: { execution: o.execution, remediations: (o.remediations ?? []).length },
    });
    return { id: doc.id, at };
  };
}

function bytes(d: SourceData): string | Uint8Array {
  if (typeof d === 'string') return d;
  return ArrayBuffer.isView(d) ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : new Uint8Array(d);
}

/** SHA-256 for the signer, over node:crypto (`@smithy/signature-v4` takes a hash constructor). */
class Sha256 {
  private readonly h: Hash | Hmac;
  constructor(secret?: SourceData) {
    this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: SourceData): void {
    this.h.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.h.digest());
  }
}

export interface IndexDeps {
  endpoint: string;
  index: string;
  region: string;
  credentials: AwsCredentialIdentity | Provider<AwsCredentialIdentity>;
  fetch?: typeof fetch;
  now?: () => Date;
}

export function createIndexHandler(deps: IndexDeps) {
  const signer = new SignatureV4({
    service: 'aoss',
    region: deps.region,
    credentials: deps.credentials,
    sha256: Sha256,
  });
  const base = new URL(deps.endpoint);
  return async (input: unknown) => {
    const o = outcomeOf(input);
    const doc = outcomeDocument(o, (deps.now ?? (() => new Date()))().toISOString());
    const body = JSON.stringify(doc);
    const path = `/${deps.index}/_doc/${encodeURIComponent(String(doc.id))}`;
    const signed = await signer.sign({
      method: 'PUT',
      protocol: base.protocol,
      hostname: base.hostname,
      ...(base.port ? { port: Number(base.port) } : {}),
      path,
      headers: {
        host: base.host,
        'content-type': 'application/json',
        // OpenSearch Serverless requires the payload's hash in this header.
        'x-amz-content-sha256': createHash('sha256').update(body).digest('hex'),
      },
      body,
    });
    const res = await (deps.fetch ?? fetch)(new URL(path, base), {
      method: 'PUT',
      headers: signed.headers as Record<string, string>,
      body,
    });
    if (!res.ok) {
      const text = (await res.text()).slice(0, 500);
      throw new AisocError('AISOC_ERR_STORE', `OpenSearch Serverless answered ${res.status}: ${text}`, {
        field: 'collection',
        details: { status: res.status },
      });
    }
    return { id: doc.id, index: deps.index };
  };
}

let store: ReturnType<typeof createStoreHandler> | undefined;
let index: ReturnType<typeof createIndexHandler> | undefined;

/** The Lambda entry point of the Store state. */
export async function storeHandler(input: unknown) {
  if (!store) {
    const env = awsEnv(['records_table', 'events_ttl_days']);
    store = createStoreHandler({
      records: new DynamoRecords({
        db: new DynamoDBClient({}),
        table: env.records_table,
        eventsTtlDays: env.events_ttl_days,
      }),
    });
  }
  return store(input);
}

/** The Lambda entry point of the Index state. */
export async function indexHandler(input: unknown) {
  if (!index) {
    const env = awsEnv(['collection_endpoint', 'index_name']);
    const { fromNodeProviderChain } = await loadAwsSdk('@aws-sdk/credential-providers');
    index = createIndexHandler({
      endpoint: env.collection_endpoint,
      index: env.index_name,
      region: process.env.AWS_REGION ?? 'us-east-1',
      credentials: fromNodeProviderChain(),
    });
  }
  return index(input);
}
