import { z } from 'zod';
import { baseConfigShape, defineAction, EnvVarName } from '../define.ts';
import { httpCall } from '../http.ts';
import { checkEndpoint } from './endpoint.ts';
import { linkBaseUrl, linkFor, NotificationInput, notificationFields } from './message.ts';

export const SlackConfig = z
  .strictObject({
    ...baseConfigShape,
    webhook_url_env: EnvVarName.default('AISOC_SLACK_WEBHOOK_URL').describe(
      'Environment variable holding the incoming-webhook URL (a secret: it grants posting)',
    ),
    link_base_url: linkBaseUrl,
  })
  .describe('notify.slack');

const EMOJI: Record<NotificationInput['severity'], string> = {
  critical: ':red_circle:',
  high: ':large_orange_circle:',
  medium: ':large_yellow_circle:',
  low: ':large_blue_circle:',
  informational: ':white_circle:',
};

/**
 * Escape text for Slack mrkdwn. Event text is data: `<!channel>`, `<@U…>`
 * and `<https://…|label>` in it must print as text, not ping people or
 * disguise links.
 */
export function escapeMrkdwn(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const cut = (s: string, max: number) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

/** The Block Kit message for a notification (limits: header 150, section 3000, field 2000, 10 fields). */
export function slackMessage(n: NotificationInput, link: string | undefined): Record<string, unknown> {
  const blocks: Array<Record<string, unknown>> = [
    {
      type: 'header',
      text: { type: 'plain_text', text: cut(`${EMOJI[n.severity]} ${n.title}`, 150), emoji: true },
    },
    { type: 'section', text: { type: 'mrkdwn', text: cut(escapeMrkdwn(n.summary), 3000) } },
    {
      type: 'section',
      fields: notificationFields(n)
        .slice(0, 10)
        .map(([k, v]) => ({ type: 'mrkdwn', text: cut(`*${escapeMrkdwn(k)}*\n${escapeMrkdwn(v)}`, 2000) })),
    },
  ];
  if (link)
    blocks.push({
      type: 'actions',
      elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open in AI-SOC' }, url: link }],
    });
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `AI-SOC · severity ${n.severity}` }] });
  // `text` is what notifications and screen readers show.
  return { text: cut(`[${n.severity.toUpperCase()}] ${n.title}`, 3000), blocks };
}

/**
 * `notify.slack`: posts a Block Kit message (title, summary, facts, a button
 * to the incident) to a Slack incoming webhook. Read-only: it changes
 * nothing in the protected environment, and a message cannot be unsent.
 *
 * @example
 * await slackFactory.create({ link_base_url: 'https://soc.example.com' }, ctx)
 *   .execute({ title: 'Root login', summary: '…', severity: 'high', incident_id }, opts);
 */
export const slackFactory = defineAction({
  type: 'notify.slack',
  description: 'Post a Block Kit message about an incident to a Slack incoming webhook',
  effect: 'read-only',
  configSchema: SlackConfig,
  inputSchema: NotificationInput,
  build(config, ctx) {
    const url = checkEndpoint(
      ctx.secret(config.webhook_url_env, 'webhook_url_env'),
      'webhook_url_env',
      ctx.redactor,
    );
    return {
      async execute(input, run) {
        const message = slackMessage(input, linkFor(input, config.link_base_url));
        if (run.dryRun)
          return {
            status: 'dry_run',
            summary: `Would post "${input.title}" to Slack.`,
            details: { message },
          };
        await httpCall(run, {
          label: 'Slack incoming webhook',
          url: url.toString(),
          method: 'POST',
          headers: { 'content-type': 'application/json; charset=utf-8' },
          body: JSON.stringify(message),
          mutating: true,
        });
        return {
          status: 'succeeded',
          summary: `Posted "${input.title}" to Slack.`,
          details: { blocks: (message.blocks as unknown[]).length },
        };
      },
    };
  },
});
