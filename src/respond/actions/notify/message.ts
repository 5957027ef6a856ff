import { z } from 'zod';
import { SeverityName } from '../../../schema/common.ts';

/**
 * What every notifier sends: content only. Destinations (channels,
 * recipients, topics, URLs) come from config, never from input, so no input
 * — an LLM's included — can redirect a notification elsewhere.
 */
export const NotificationInput = z.strictObject({
  title: z
    .string()
    .trim()
    .min(1)
    .max(250)
    .describe('One-line headline, e.g. "Access key used from a new country"'),
  summary: z
    .string()
    .trim()
    .min(1)
    .max(3000)
    .describe('What happened and why it matters, in a few sentences'),
  severity: SeverityName.describe('Severity: informational, low, medium, high or critical'),
  incident_id: z.uuid().optional().describe('The incident notified about; links and de-duplication use it'),
  alert_id: z.uuid().optional().describe('The alert notified about, when there is no incident'),
  url: z
    .url({ protocol: /^https?$/ })
    .max(2000)
    .optional()
    .describe('Link to the incident in the console; default: link_base_url + /incidents/<id>'),
  fields: z
    .record(z.string().trim().min(1).max(50), z.string().max(500))
    .refine((r) => Object.keys(r).length <= 10, 'must have at most 10 entries')
    .optional()
    .describe('Up to 10 short facts shown as label: value (user, source IP, account, …)'),
});
export type NotificationInput = z.infer<typeof NotificationInput>;

/** Config field shared by notifiers: where links to incidents point. */
export const linkBaseUrl = z
  .url({ protocol: /^https?$/ })
  .optional()
  .describe('Base URL of the AI-SOC console, for links: <base>/incidents/<id> or <base>/alerts/<id>');

/**
 * The link a notification carries: the input's `url`, else one built from
 * the console base URL and the incident (or alert) id.
 *
 * @example linkFor({ …, incident_id: 'e3…' }, 'https://soc.example.com') // 'https://soc.example.com/incidents/e3…'
 */
export function linkFor(n: NotificationInput, base: string | undefined): string | undefined {
  if (n.url) return n.url;
  if (!base) return undefined;
  const root = base.replace(/\/+$/, '');
  if (n.incident_id) return `${root}/incidents/${n.incident_id}`;
  if (n.alert_id) return `${root}/alerts/${n.alert_id}`;
  return undefined;
}

/** The facts of a notification, ids included, in a stable order. */
export function notificationFields(n: NotificationInput): Array<[string, string]> {
  const out: Array<[string, string]> = [['Severity', n.severity]];
  if (n.incident_id) out.push(['Incident', n.incident_id]);
  else if (n.alert_id) out.push(['Alert', n.alert_id]);
  for (const [k, v] of Object.entries(n.fields ?? {})) out.push([k, v]);
  return out;
}

/** A plain-text rendering, for e-mail and SNS. */
export function plainText(n: NotificationInput, link: string | undefined): string {
  const lines = [`[${n.severity.toUpperCase()}] ${n.title}`, '', n.summary, ''];
  for (const [k, v] of notificationFields(n)) lines.push(`${k}: ${v}`);
  if (link) lines.push('', `Open: ${link}`);
  lines.push('', '— AI-SOC');
  return lines.join('\n');
}

/** Strip line breaks and control characters (header-injection guard for subjects). */
export function oneLine(s: string, max: number): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is removed.
  const flat = s.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** How text a model wrote is introduced wherever people read it: it is the model's claim, not a checked fact. */
export const MODEL_TEXT_LABEL = 'Model-written summary (unverified)';

/** Longest model-written text carried into a notification (the summary field holds 3,000 characters). */
const MODEL_TEXT_MAX = 1500;

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * Text a model wrote, labelled as such for people: an LLM's summary may
 * repeat what an attacker put in the data ("closed as requested"), so it never
 * reaches a responder looking like the product's own words.
 *
 * @example modelWritten('Benign scan.', 'ollama:llama3.1') // 'Model-written summary (unverified, ollama:llama3.1): Benign scan.'
 */
export function modelWritten(text: string, model: string, label = MODEL_TEXT_LABEL): string {
  return `${label.replace(/\)$/, `, ${model})`)}: ${clip(text, MODEL_TEXT_MAX)}`;
}

/**
 * The notice a disputed verdict carries: the model's verdict was weaker than
 * the built-in analyst's, so the built-in verdict stands and the model's
 * changes nothing until a person reviews it.
 */
export function disputedNotice(
  standing: { is_true_positive: boolean; severity: string },
  dispute: { model: string; claims: { is_true_positive: boolean; severity: string } },
): string {
  const judged = (v: { is_true_positive: boolean; severity: string }) =>
    `${v.is_true_positive ? 'a true positive' : 'a false positive'} (${v.severity})`;
  return `DISPUTED verdict: the model ${dispute.model} judged this ${judged(dispute.claims)}, weaker than the built-in analyst's ${judged(standing)}. The built-in verdict stands; the model's changes nothing until a person reviews it.`;
}
