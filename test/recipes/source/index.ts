/**
 * Example for docs/ARCHITECTURE.md, "How to add a source": written as that
 * recipe says, in the folder a product source would have
 * (`src/sources/authlog/index.ts`); `test/recipes.test.ts` plugs it in the
 * way its line in `SOURCE_FACTORIES` would, and runs the source conformance
 * suite on it.
 *
 * The format: one JSON object per sign-in attempt, as a small identity
 * provider might export it:
 * `{"id": "…", "time": "…", "host": "…", "user": "…", "ip": "…", "outcome": "failure"}`.
 */
import { z } from 'zod';
import { parseIp } from '../../../src/net/ip.ts';
import type { EventDraft, Observable } from '../../../src/schema/event.ts';
import { ocsfClass } from '../../../src/schema/event.ts';
import { asObj, isObj, optStr, ParseError, reqStr, toIsoTime } from '../../../src/sources/fields.ts';
import type { SourceFactory } from '../../../src/sources/types.ts';

/** `sources.authlog`: strict, and every field has a default, so `{}` is a working config. */
export const AuthlogConfig = z
  .strictObject({
    failure_outcomes: z
      .array(z.string())
      .min(1)
      .default(['failure', 'denied'])
      .describe('Values of `outcome` that mean the sign-in failed'),
  })
  .describe('Sign-in log of the example identity provider');
export type AuthlogConfig = z.infer<typeof AuthlogConfig>;

/** Normalise one sign-in record: an OCSF Authentication event. Throws a ParseError naming the field. */
function normalise(record: unknown, config: AuthlogConfig): EventDraft[] {
  const r = asObj(record);
  const outcome = reqStr(r, 'outcome');
  const user = reqStr(r, 'user');
  const ip = optStr(r, 'ip');
  const host = optStr(r, 'host');
  if (ip !== undefined && !parseIp(ip))
    throw new ParseError(`ip is not an IP address: ${ip.slice(0, 64)}`, 'ip');
  const observables: Observable[] = [{ type: 'user', value: user, name: 'actor.user.name' }];
  if (ip) observables.push({ type: 'ip', value: ip, name: 'src_endpoint.ip' });
  const failed = config.failure_outcomes.includes(outcome);
  return [
    {
      ...ocsfClass(3002),
      source_event_id: optStr(r, 'id'),
      time: toIsoTime(r.time, 'time'),
      activity_name: 'Logon',
      severity_id: failed ? 2 : 1,
      status: failed ? 'failure' : 'success',
      status_detail: outcome,
      actor: { user: { name: user } },
      ...(ip ? { src_endpoint: { ip } } : {}),
      ...(host ? { device: { hostname: host } } : {}),
      observables,
      metadata: { product: 'Example IdP', log_name: 'signin' },
      raw: record,
    },
  ];
}

/** The registry entry: one line `authlog,` in `SOURCE_FACTORIES` (src/sources/index.ts) would ship it. */
export const authlog: SourceFactory<AuthlogConfig> = {
  type: 'authlog',
  description: 'Sign-in log of the example identity provider (JSON lines)',
  configSchema: AuthlogConfig,
  create: (config) => ({
    type: 'authlog',
    framing: 'json',
    normalise: (record) => normalise(record, config),
  }),
  sniff: (record) => (isObj(record) && 'outcome' in record && 'user' in record && 'ip' in record ? 0.6 : 0),
};
