import type {
  ConverseCommandInput,
  ConverseCommandOutput,
  ToolInputSchema,
} from '@aws-sdk/client-bedrock-runtime';
import { lazyAwsClient } from '../../../aws-sdk.ts';
import { AisocError } from '../../../errors.ts';
import { defineLlmBackend } from '../define.ts';
import { errorCodes, networkReason } from '../http.ts';
import { secretFromEnv } from '../local.ts';
import type { LlmCall, LlmCompletion, StopKind } from '../types.ts';
import { isRetryableStatus, retryAfterMs, UpstreamError } from '../upstream.ts';
import { BedrockConfig } from './config.ts';

/** Bedrock exceptions worth another attempt, whatever their status. */
const RETRYABLE = new Set([
  'ThrottlingException',
  'ServiceUnavailableException',
  'InternalServerException',
  'ModelNotReadyException',
  'ModelTimeoutException',
]);

/** Node socket errors: the endpoint could not be reached or dropped the connection. */
const NETWORK = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'TimeoutError',
]);

function stopKind(reason: string | undefined): StopKind {
  switch (reason) {
    case 'tool_use':
    case 'end_turn':
    case 'stop_sequence':
    case undefined:
      return 'stop';
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'content_filtered':
    case 'guardrail_intervened':
      return 'refusal';
    default:
      return 'other';
  }
}

/** The instruction that replaces the tool in `prompt` mode. */
function schemaInstruction(call: LlmCall): string {
  return `\n\nAnswer with exactly one JSON object that satisfies this JSON Schema, and nothing else:\n${JSON.stringify(call.request.schema)}`;
}

function toUpstream(err: unknown): UpstreamError | AisocError {
  const e = err as {
    name?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
    $response?: { headers?: Record<string, string> };
  };
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined) {
    const headers = e.$response?.headers ?? {};
    return new UpstreamError(`HTTP ${status} ${e.name ?? 'error'}: ${e.message ?? ''}`, {
      kind: 'http',
      status,
      retryable: isRetryableStatus(status) || RETRYABLE.has(e.name ?? ''),
      retryAfterMs: retryAfterMs((n) => headers[n] ?? headers[n.toLowerCase()]),
    });
  }
  const reason = networkReason(err);
  // HTTP/2 session failures (ERR_HTTP2_*) are connection-level too: the SDK speaks HTTP/2 to Bedrock.
  const codes = errorCodes(err);
  if (NETWORK.has(e.name ?? '') || codes.some((c) => NETWORK.has(c) || c.startsWith('ERR_HTTP2_'))) {
    return new UpstreamError(`the endpoint could not be reached: ${reason}`, { kind: 'network', cause: err });
  }
  if (e.name === 'CredentialsProviderError') {
    return new AisocError('AISOC_ERR_CONFIG', `No AWS credentials for Bedrock: ${e.message ?? ''}`, {
      field: 'analyst.bedrock.access_key_id_env',
    });
  }
  return new UpstreamError(`${e.name ?? 'Error'}: ${e.message ?? String(err)}`, {
    kind: 'protocol',
    retryable: false,
  });
}

/**
 * AWS Bedrock through the Converse API (`POST /model/{modelId}/converse`),
 * signed with SigV4 by the AWS SDK v3. JSON is forced with a tool: one tool
 * named after the schema, whose `inputSchema.json` is the schema, and
 * `toolChoice: {tool: {name}}` so the model must call it; the tool input
 * arrives parsed. `json_mode: prompt` instead puts the schema in the system
 * prompt and parses the text (for Bedrock models without tool choice). The
 * SDK's own retries are off (`maxAttempts: 1`): the shared wrapper retries.
 * The SDK is imported on the first call (src/aws-sdk.ts).
 * Bedrock is never `local`, even behind a VPC endpoint: the data reaches AWS.
 */
export const bedrockBackend = defineLlmBackend({
  type: 'bedrock',
  description: 'AWS Bedrock Converse API (Claude; JSON forced through a tool)',
  configSchema: BedrockConfig,
  createCore(config, ctx) {
    const accessKeyId = secretFromEnv(ctx, config.access_key_id_env, 'analyst.bedrock.access_key_id_env');
    const secretAccessKey = secretFromEnv(
      ctx,
      config.secret_access_key_env,
      'analyst.bedrock.secret_access_key_env',
    );
    const sessionToken = secretFromEnv(ctx, config.session_token_env, 'analyst.bedrock.session_token_env');
    if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
      throw new AisocError(
        'AISOC_ERR_CONFIG',
        'analyst.bedrock needs both access_key_id_env and secret_access_key_env, or neither (the default credential chain).',
        { field: 'analyst.bedrock.secret_access_key_env' },
      );
    }
    // The SDK is loaded by the first call, not here: a configured but unused backend costs nothing.
    const bedrock = lazyAwsClient(
      '@aws-sdk/client-bedrock-runtime',
      (sdk) =>
        new sdk.BedrockRuntimeClient({
          region: config.region,
          maxAttempts: 1,
          ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
          ...(accessKeyId && secretAccessKey
            ? { credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } }
            : {}),
        }),
    );
    return {
      name: 'bedrock',
      model: config.model,
      local: false,
      secrets: [accessKeyId, secretAccessKey, sessionToken].filter((s): s is string => s !== undefined),
      async call(call): Promise<LlmCompletion> {
        const { request } = call;
        const tool = config.json_mode === 'tool';
        const input: ConverseCommandInput = {
          modelId: config.model,
          system: [{ text: tool ? request.system : request.system + schemaInstruction(call) }],
          messages: request.messages.map((m) => ({ role: m.role, content: [{ text: m.content }] })),
          inferenceConfig: { maxTokens: call.maxTokens, temperature: call.temperature },
          ...(tool
            ? {
                toolConfig: {
                  tools: [
                    {
                      toolSpec: {
                        name: request.schemaName,
                        description:
                          'Record the answer. Call this tool exactly once, with the complete answer.',
                        // The SDK types JSON documents as its own DocumentType; our schema is plain JSON.
                        inputSchema: {
                          json: request.schema as unknown as ToolInputSchema.JsonMember['json'],
                        },
                      },
                    },
                  ],
                  toolChoice: { tool: { name: request.schemaName } },
                },
              }
            : {}),
        };
        const { sdk, client } = await bedrock();
        let out: ConverseCommandOutput;
        try {
          out = await client.send(new sdk.ConverseCommand(input), { abortSignal: call.signal });
        } catch (err) {
          if (call.signal.aborted) throw err;
          throw toUpstream(err);
        }
        const blocks = out.output?.message?.content ?? [];
        const toolUse = blocks.find((b) => b.toolUse?.name === request.schemaName)?.toolUse;
        const text = blocks.map((b) => b.text ?? '').join('');
        return {
          text,
          ...(toolUse ? { structured: toolUse.input } : {}),
          stop: stopKind(out.stopReason),
          stopDetail: out.stopReason ?? 'unknown',
          usage: { input_tokens: out.usage?.inputTokens ?? 0, output_tokens: out.usage?.outputTokens ?? 0 },
          model: config.model,
        };
      },
    };
  },
});
