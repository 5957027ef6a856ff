import { AisocError } from '../errors.ts';

export interface RemoteOptions {
  url?: string;
  key?: string;
}

/**
 * Call a running server's API with an API key (from `--key` or
 * AISOC_API_KEY). Errors come back as the server's own code and message.
 */
export async function remote<T = Record<string, unknown>>(
  opts: RemoteOptions,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  if (!opts.url)
    throw new AisocError('AISOC_ERR_VALIDATION', 'This command talks to a running server: give --url', {
      field: 'url',
    });
  const key = opts.key ?? process.env.AISOC_API_KEY;
  if (!key)
    throw new AisocError('AISOC_ERR_VALIDATION', '--url needs --key (or AISOC_API_KEY)', { field: 'key' });
  let res: Response;
  try {
    res = await fetch(`${opts.url.replace(/\/+$/, '')}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new AisocError('AISOC_ERR_INTERNAL', `Cannot reach ${opts.url}: ${(err as Error).message}`, {
      field: 'url',
    });
  }
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    json = { message: text.slice(0, 200) };
  }
  if (!res.ok) {
    throw new AisocError(
      'AISOC_ERR_INTERNAL',
      `The server answered ${res.status} ${String(json.code ?? '')}: ${String(json.message ?? res.statusText)}`.replace(
        '  ',
        ' ',
      ),
      {
        ...(typeof json.field === 'string' ? { field: json.field } : {}),
      },
    );
  }
  return json as T;
}

/** Add `--url` and `--key` to a command. */
export function withRemote<C extends { option(flags: string, description: string): C }>(c: C): C {
  return c
    .option('--url <url>', 'the server to talk to (e.g. http://127.0.0.1:8080)')
    .option('--key <key>', 'API key (env AISOC_API_KEY)');
}
