import type { AslDefinition } from './synth.ts';

/**
 * A small interpreter of the part of Amazon States Language the triage
 * state machine uses, for tests: Task (a Lambda function by ARN, with
 * Parameters, ResultPath, Retry, Catch, TimeoutSeconds; the SQS
 * sendMessage and SNS publish.waitForTaskToken integrations), Choice
 * (Variable with NumericGreaterThanEquals, StringEquals, BooleanEquals,
 * IsString; And, Or, Not), Map (inline, ItemsPath, ItemSelector,
 * MaxConcurrency 1), Pass (Parameters), Succeed and Fail. JSONPath is the
 * reference subset (`$`, `$.a.b`, `$$.Execution.Id`, `$$.Task.Token`,
 * `$$.Map.Item.Value`). Anything else — a state type, a field, a
 * comparison, a path — is refused with an error naming it, so the
 * definition cannot use what the interpreter does not model.
 *
 * Why not a package: aws-local-stepfunctions 3.0.0 needs Node >= 22, and
 * the product runs on Node 20.
 */

type Json = unknown;
type Obj = Record<string, Json>;

export class AslUnsupported extends Error {}

/** A state's error, as Step Functions names it (`Error`, `Cause`). */
export class StatesError extends Error {
  constructor(
    readonly error: string,
    readonly causeText: string,
  ) {
    super(`${error}: ${causeText}`);
  }
}

export interface Integrations {
  /** Lambda functions by ARN: the handler, called with the Parameters (payloadResponseOnly). */
  lambdas: Record<string, (payload: Json) => Promise<Json>>;
  /** `arn:aws:states:::sqs:sendMessage`: QueueUrl and MessageBody. */
  sqsSendMessage?: (params: { QueueUrl: string; MessageBody: Json }) => Promise<Json>;
  /** `arn:aws:states:::sns:publish.waitForTaskToken`: the message holds the token; answer with `sendTaskSuccess`. */
  snsPublishWaitForTaskToken?: (params: Obj, token: string) => Promise<void>;
  /** Retry intervals, in seconds: tests record them instead of waiting. */
  sleep?: (seconds: number) => Promise<void>;
}

export interface Execution {
  status: 'SUCCEEDED' | 'FAILED';
  output?: Json;
  error?: string;
  cause?: string;
  /** Every state entered, in order (inner Map states as `Map/State`). */
  history: string[];
  /** Every Task attempt: state name, and the error when it failed. */
  attempts: Array<{ state: string; error?: string }>;
}

const COMMON = new Set(['Type', 'Comment', 'Next', 'End']);
const ALLOWED: Record<string, Set<string>> = {
  Task: new Set([...COMMON, 'Resource', 'Parameters', 'ResultPath', 'Retry', 'Catch', 'TimeoutSeconds']),
  Choice: new Set(['Type', 'Comment', 'Choices', 'Default']),
  Pass: new Set([...COMMON, 'Parameters', 'ResultPath']),
  Map: new Set([
    ...COMMON,
    'ItemsPath',
    'ItemSelector',
    'ItemProcessor',
    'MaxConcurrency',
    'ResultPath',
    'Catch',
  ]),
  Succeed: new Set(['Type', 'Comment']),
  Fail: new Set(['Type', 'Comment', 'Error', 'Cause']),
};
const TOP = new Set(['StartAt', 'States', 'TimeoutSeconds', 'Comment']);

function isObj(v: Json): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reject what the interpreter does not implement, anywhere in the definition. */
export function checkSupported(d: { StartAt: string; States: Record<string, Obj> }, where = ''): void {
  for (const k of Object.keys(d)) if (!TOP.has(k)) throw new AslUnsupported(`${where}field ${k}`);
  if (!(d.StartAt in d.States)) throw new AslUnsupported(`${where}StartAt ${d.StartAt} is no state`);
  for (const [name, s] of Object.entries(d.States)) {
    const type = String(s.Type);
    const allowed = ALLOWED[type];
    if (!allowed) throw new AslUnsupported(`${where}${name}: state type ${type}`);
    for (const k of Object.keys(s))
      if (!allowed.has(k)) throw new AslUnsupported(`${where}${name}: field ${k}`);
    if (type === 'Map') {
      const p = s.ItemProcessor as Obj;
      const cfg = p.ProcessorConfig as Obj | undefined;
      if (cfg && cfg.Mode !== 'INLINE') throw new AslUnsupported(`${name}: Map mode ${String(cfg.Mode)}`);
      if (s.MaxConcurrency !== 1)
        throw new AslUnsupported(`${name}: MaxConcurrency ${String(s.MaxConcurrency)}`);
      const { ProcessorConfig: _c, ...inner } = p;
      checkSupported(inner as { StartAt: string; States: Record<string, Obj> }, `${where}${name}/`);
    }
    if (type === 'Choice') for (const c of s.Choices as Obj[]) checkRule(c, `${where}${name}`);
  }
}

const COMPARISONS = new Set(['NumericGreaterThanEquals', 'StringEquals', 'BooleanEquals', 'IsString']);
function checkRule(rule: Obj, where: string): void {
  for (const k of Object.keys(rule)) {
    if (k === 'Next' || k === 'Variable') continue;
    if (k === 'And' || k === 'Or') for (const r of rule[k] as Obj[]) checkRule(r, where);
    else if (k === 'Not') checkRule(rule[k] as Obj, where);
    else if (!COMPARISONS.has(k)) throw new AslUnsupported(`${where}: comparison ${k}`);
  }
}

interface Ctx {
  execution: string;
  token?: string;
  item?: Json;
}

function path(p: string, input: Json, ctx: Ctx): Json {
  if (p === '$') return input;
  if (p === '$$.Execution.Id') return ctx.execution;
  if (p === '$$.Task.Token') return ctx.token;
  if (p === '$$.Map.Item.Value') return ctx.item;
  const m = /^\$((?:\.[\w-]+)+)$/.exec(p);
  if (!m) throw new AslUnsupported(`path ${p}`);
  let v: Json = input;
  for (const part of m[1]!.slice(1).split('.')) {
    if (!isObj(v) || !(part in v))
      throw new StatesError('States.Runtime', `path ${p} not found in the input`);
    v = v[part];
  }
  return v;
}

function params(template: Json, input: Json, ctx: Ctx): Json {
  if (Array.isArray(template)) return template.map((t) => params(t, input, ctx));
  if (!isObj(template)) return template;
  const out: Obj = {};
  for (const [k, v] of Object.entries(template)) {
    if (k.endsWith('.$')) out[k.slice(0, -2)] = path(String(v), input, ctx);
    else out[k] = params(v, input, ctx);
  }
  return out;
}

function withResult(input: Json, resultPath: Json, result: Json): Json {
  if (resultPath === null) return input;
  if (resultPath === undefined || resultPath === '$') return result;
  const m = /^\$((?:\.[\w-]+)+)$/.exec(String(resultPath));
  if (!m) throw new AslUnsupported(`ResultPath ${String(resultPath)}`);
  const parts = m[1]!.slice(1).split('.');
  const root: Obj = isObj(input) ? structuredClone(input) : {};
  let at = root;
  for (const p of parts.slice(0, -1)) {
    if (!isObj(at[p])) at[p] = {};
    at = at[p] as Obj;
  }
  at[parts.at(-1)!] = result;
  return root;
}

function matches(rule: Obj, input: Json, ctx: Ctx): boolean {
  if (rule.And) return (rule.And as Obj[]).every((r) => matches(r, input, ctx));
  if (rule.Or) return (rule.Or as Obj[]).some((r) => matches(r, input, ctx));
  if (rule.Not) return !matches(rule.Not as Obj, input, ctx);
  let v: Json;
  try {
    v = path(String(rule.Variable), input, ctx);
  } catch (err) {
    if (err instanceof StatesError && 'IsString' in rule) return rule.IsString === false;
    throw err;
  }
  if ('NumericGreaterThanEquals' in rule)
    return typeof v === 'number' && v >= Number(rule.NumericGreaterThanEquals);
  if ('StringEquals' in rule) return v === rule.StringEquals;
  if ('BooleanEquals' in rule) return v === rule.BooleanEquals;
  if ('IsString' in rule) return (typeof v === 'string') === rule.IsString;
  throw new AslUnsupported(`comparison in ${JSON.stringify(rule)}`);
}

function errorMatches(names: string[], error: string): boolean {
  return names.some(
    (n) => n === error || n === 'States.ALL' || (n === 'States.TaskFailed' && error !== 'States.Timeout'),
  );
}

/** A task token's answer: the test approves or denies through these. */
export class TaskTokens {
  private readonly waiting = new Map<string, { resolve: (v: Json) => void; reject: (e: Error) => void }>();
  private n = 0;
  next(): string {
    return `token-${++this.n}`;
  }
  wait(token: string): Promise<Json> {
    return new Promise((resolve, reject) => this.waiting.set(token, { resolve, reject }));
  }
  sendTaskSuccess(token: string, output: Json): void {
    const w = this.waiting.get(token);
    if (!w) throw new Error(`no task waits for ${token}`);
    this.waiting.delete(token);
    w.resolve(output);
  }
  sendTaskFailure(token: string, error: string, cause = ''): void {
    const w = this.waiting.get(token);
    if (!w) throw new Error(`no task waits for ${token}`);
    this.waiting.delete(token);
    w.reject(new StatesError(error, cause));
  }
  /** The task's TimeoutSeconds elapsed (no clock: the test says so). */
  expire(token: string): void {
    this.sendTaskFailure(token, 'States.Timeout', 'The task timed out');
  }
}

export class AslInterpreter {
  readonly tokens = new TaskTokens();

  constructor(
    private readonly definition: AslDefinition,
    private readonly integrations: Integrations,
  ) {
    checkSupported(definition as unknown as { StartAt: string; States: Record<string, Obj> });
  }

  async run(input: Json, executionId: string): Promise<Execution> {
    const history: string[] = [];
    const attempts: Execution['attempts'] = [];
    try {
      const output = await this.runStates(
        this.definition,
        input,
        { execution: executionId },
        history,
        attempts,
        '',
      );
      return { status: 'SUCCEEDED', output, history, attempts };
    } catch (err) {
      if (err instanceof StatesError)
        return { status: 'FAILED', error: err.error, cause: err.causeText, history, attempts };
      throw err;
    }
  }

  private async runStates(
    d: { StartAt: string; States: Record<string, Obj> },
    input: Json,
    ctx: Ctx,
    history: string[],
    attempts: Execution['attempts'],
    prefix: string,
  ): Promise<Json> {
    let name: string | undefined = d.StartAt;
    let data = input;
    for (let steps = 0; name !== undefined; steps++) {
      if (steps > 1000) throw new Error('more than 1000 transitions');
      const s: Obj = d.States[name]!;
      history.push(`${prefix}${name}`);
      let next: string | undefined;
      try {
        switch (s.Type) {
          case 'Succeed':
            return data;
          case 'Fail':
            throw new StatesError(String(s.Error), String(s.Cause ?? ''));
          case 'Pass':
            data = withResult(data, s.ResultPath, s.Parameters ? params(s.Parameters, data, ctx) : data);
            break;
          case 'Choice': {
            const hit: Obj | undefined = (s.Choices as Obj[]).find((c) => matches(c, data, ctx));
            next = hit ? String(hit.Next) : (s.Default as string | undefined);
            if (next === undefined) throw new StatesError('States.NoChoiceMatched', name);
            name = next;
            continue;
          }
          case 'Task':
            data = withResult(data, s.ResultPath, await this.task(name, s, data, ctx, attempts, prefix));
            break;
          case 'Map': {
            const items = path(String(s.ItemsPath ?? '$'), data, ctx);
            if (!Array.isArray(items))
              throw new StatesError('States.Runtime', `${name}: ItemsPath is not an array`);
            const p = s.ItemProcessor as { StartAt: string; States: Record<string, Obj> };
            const results: Json[] = [];
            for (const item of items) {
              const itemCtx = { ...ctx, item };
              const itemInput = s.ItemSelector ? params(s.ItemSelector, data, itemCtx) : item;
              results.push(
                await this.runStates(p, itemInput, itemCtx, history, attempts, `${prefix}${name}/`),
              );
            }
            data = withResult(data, s.ResultPath, results);
            break;
          }
          default:
            throw new AslUnsupported(`state type ${String(s.Type)}`);
        }
      } catch (err) {
        if (!(err instanceof StatesError)) throw err;
        const handler = ((s.Catch as Obj[] | undefined) ?? []).find((c) =>
          errorMatches(c.ErrorEquals as string[], err.error),
        );
        if (!handler) throw err;
        data = withResult(data, handler.ResultPath, { Error: err.error, Cause: err.causeText });
        name = String(handler.Next);
        continue;
      }
      name = s.End ? undefined : String(s.Next);
    }
    return data;
  }

  private async task(
    name: string,
    s: Obj,
    data: Json,
    ctx: Ctx,
    attempts: Execution['attempts'],
    prefix: string,
  ): Promise<Json> {
    const retriers = ((s.Retry as Obj[] | undefined) ?? []).map((r) => ({ r, used: 0 }));
    for (;;) {
      try {
        const out = await this.invoke(s, data, ctx);
        attempts.push({ state: `${prefix}${name}` });
        return out;
      } catch (err) {
        const e =
          err instanceof StatesError
            ? err
            : new StatesError(
                (err as Error).name || 'Error',
                JSON.stringify({ errorType: (err as Error).name, errorMessage: (err as Error).message }),
              );
        attempts.push({ state: `${prefix}${name}`, error: e.error });
        const retrier = retriers.find(({ r }) => errorMatches(r.ErrorEquals as string[], e.error));
        const max = Number(retrier?.r.MaxAttempts ?? 3);
        if (!retrier || retrier.used >= max) throw e;
        const interval =
          Number(retrier.r.IntervalSeconds ?? 1) * Number(retrier.r.BackoffRate ?? 2) ** retrier.used;
        retrier.used++;
        await (this.integrations.sleep ?? (async () => {}))(interval);
      }
    }
  }

  private async invoke(s: Obj, data: Json, ctx: Ctx): Promise<Json> {
    const resource = String(s.Resource);
    if (resource === 'arn:aws:states:::sqs:sendMessage') {
      const p = params(s.Parameters, data, ctx) as { QueueUrl: string; MessageBody: Json };
      if (!this.integrations.sqsSendMessage) throw new AslUnsupported('sqs:sendMessage is not bound');
      return this.integrations.sqsSendMessage(p);
    }
    if (resource === 'arn:aws:states:::sns:publish.waitForTaskToken') {
      const token = this.tokens.next();
      const p = params(s.Parameters, data, { ...ctx, token }) as Obj;
      if (!this.integrations.snsPublishWaitForTaskToken) throw new AslUnsupported('sns:publish is not bound');
      const answer = this.tokens.wait(token);
      await this.integrations.snsPublishWaitForTaskToken(p, token);
      return answer;
    }
    const fn = this.integrations.lambdas[resource];
    if (!fn) throw new AslUnsupported(`Task resource ${resource}`);
    const payload = s.Parameters ? params(s.Parameters, data, ctx) : data;
    // Through JSON, as Lambda does: nothing but data crosses the boundary.
    return JSON.parse(JSON.stringify((await fn(JSON.parse(JSON.stringify(payload)))) ?? null));
  }
}
