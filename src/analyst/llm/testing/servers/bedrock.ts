import { checkMessages, type FakeLlmServer, type ProtocolAdapter, startFakeLlmServer } from './base.ts';
import { type SigV4Credentials, verifySigV4 } from './sigv4.ts';

interface ConverseRequest {
  messages?: Array<{ role?: string; content?: Array<{ text?: unknown }> }>;
  system?: Array<{ text?: unknown }>;
  inferenceConfig?: { maxTokens?: unknown; temperature?: unknown };
  toolConfig?: {
    tools?: Array<{ toolSpec?: { name?: unknown; inputSchema?: { json?: unknown } } }>;
    toolChoice?: { tool?: { name?: unknown }; any?: unknown; auto?: unknown };
  };
}

/** The error type Bedrock names in `x-amzn-ErrorType` for a status. */
function errorType(status: number): string {
  switch (status) {
    case 400:
      return 'ValidationException';
    case 403:
      return 'AccessDeniedException';
    case 404:
      return 'ResourceNotFoundException';
    case 408:
      return 'ModelTimeoutException';
    case 429:
      return 'ThrottlingException';
    case 503:
      return 'ServiceUnavailableException';
    default:
      return 'InternalServerException';
  }
}

/** The test credentials the fake Bedrock server accepts. */
export const BEDROCK_TEST_CREDENTIALS: SigV4Credentials = {
  accessKeyId: 'AKIAFAKEBEDROCKTEST1',
  secretAccessKey: 'fake/Secret+Access/Key0123456789abcdefTEST',
};

/**
 * Bedrock Runtime's Converse API as the fake server speaks it:
 * `POST /model/{modelId}/converse`, signed with SigV4 by the test
 * credentials for `bedrock` in `region` (the signature is verified), a
 * body with `messages[].content[].text`, `system[].text`,
 * `inferenceConfig.maxTokens` and, in tool mode, one tool with
 * `inputSchema.json` chosen by `toolChoice.tool.name`. A JSON reply comes
 * back as that tool's `toolUse.input` with `stopReason: "tool_use"`, other
 * text as a text block; errors carry `x-amzn-ErrorType` and `{message}`.
 */
export function bedrockProtocol(
  options: { region?: string; credentials?: SigV4Credentials; mode?: 'tool' | 'prompt' } = {},
): ProtocolAdapter {
  const region = options.region ?? 'us-east-1';
  const creds = options.credentials ?? BEDROCK_TEST_CREDENTIALS;
  const mode = options.mode ?? 'tool';
  return {
    name: 'bedrock',
    check(req) {
      const errors: string[] = [];
      if (req.method !== 'POST' || !/^\/model\/[^/]+\/converse$/.test(req.path))
        errors.push(`expected POST /model/{modelId}/converse, got ${req.method} ${req.path}`);
      errors.push(...verifySigV4(req, creds, { region, service: 'bedrock' }));
      const b = req.body as ConverseRequest;
      errors.push(...checkMessages(b.messages, ['user', 'assistant'], 'messages'));
      b.messages?.forEach((m, i) => {
        if (!Array.isArray(m.content) || !m.content.every((c) => typeof c.text === 'string'))
          errors.push(`messages[${i}].content must be text blocks`);
      });
      if (!Array.isArray(b.system) || typeof b.system[0]?.text !== 'string')
        errors.push('system must hold a text block');
      if (typeof b.inferenceConfig?.maxTokens !== 'number')
        errors.push('inferenceConfig.maxTokens must be a number');
      if (mode === 'tool') {
        const spec = b.toolConfig?.tools?.[0]?.toolSpec;
        if (!spec || typeof spec.name !== 'string')
          errors.push('toolConfig.tools[0].toolSpec.name is missing');
        const schema = spec?.inputSchema?.json;
        if (!schema || typeof schema !== 'object')
          errors.push('toolSpec.inputSchema.json must be a JSON schema object');
        if (b.toolConfig?.toolChoice?.tool?.name !== spec?.name)
          errors.push('toolChoice.tool.name must name the tool (forced tool use)');
      } else if (b.toolConfig) errors.push('prompt mode sends no toolConfig');
      return errors;
    },
    reply(reply, req) {
      const b = req.body as ConverseRequest;
      const toolName = b.toolConfig?.tools?.[0]?.toolSpec?.name;
      let input: unknown;
      try {
        input = JSON.parse(reply.text);
      } catch {
        input = undefined;
      }
      const asTool =
        typeof toolName === 'string' &&
        !reply.asText &&
        reply.stop !== 'length' &&
        input &&
        typeof input === 'object';
      const usage = {
        inputTokens: reply.usage?.input ?? 0,
        outputTokens: reply.usage?.output ?? 0,
        totalTokens: (reply.usage?.input ?? 0) + (reply.usage?.output ?? 0),
      };
      return {
        status: 200,
        body: JSON.stringify({
          output: {
            message: {
              role: 'assistant',
              content: asTool
                ? [{ toolUse: { toolUseId: 'tooluse_fake1', name: toolName, input } }]
                : [{ text: reply.text }],
            },
          },
          stopReason: reply.stop === 'length' ? 'max_tokens' : asTool ? 'tool_use' : 'end_turn',
          usage,
          metrics: { latencyMs: 1 },
        }),
      };
    },
    error(e) {
      const type = errorType(e.status);
      return {
        status: e.status,
        headers: {
          'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
          'x-amzn-requestid': 'fake-request-id',
          ...(e.retryAfter === undefined ? {} : { 'retry-after': e.retryAfter }),
        },
        body: JSON.stringify({ message: e.message ?? type }),
      };
    },
    schemaOf(req) {
      const b = req.body as ConverseRequest;
      if (mode === 'tool') return b.toolConfig?.tools?.[0]?.toolSpec?.inputSchema?.json;
      const system = String(b.system?.[0]?.text ?? '');
      const at = system.lastIndexOf('\n{');
      try {
        return JSON.parse(system.slice(at + 1));
      } catch {
        return undefined;
      }
    },
    promptOf(req) {
      const b = req.body as ConverseRequest;
      return {
        system: (b.system ?? []).map((s) => String(s.text)).join('\n'),
        user: (b.messages ?? [])
          .filter((m) => m.role === 'user')
          .flatMap((m) => (m.content ?? []).map((c) => String(c.text)))
          .join('\n'),
      };
    },
  };
}

/** Start a fake Bedrock Runtime server on a free local port, speaking HTTP/2 like the real endpoint. */
export function startFakeBedrock(
  options: { region?: string; credentials?: SigV4Credentials; mode?: 'tool' | 'prompt' } = {},
): Promise<FakeLlmServer> {
  return startFakeLlmServer(bedrockProtocol(options), { http2: true });
}
