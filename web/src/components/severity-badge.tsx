import './widgets.css';
import type { SeverityName } from '../lib/types.ts';

const MARK: Record<SeverityName, string> = {
  critical: '▲▲',
  high: '▲',
  medium: '◆',
  low: '▼',
  informational: '•',
};

/**
 * A severity as coloured text with a shape: the word carries the meaning, so colour is never the only cue.
 * Unknown values (a newer server) render as plain text.
 */
export function SeverityBadge({ severity, short }: { severity: string; short?: boolean }) {
  const known = severity in MARK ? (severity as SeverityName) : null;
  return (
    <span className={`sev${known ? ` sev-${known}` : ''}`}>
      {known && (
        <span aria-hidden="true" className="sev-mark">
          {MARK[known]}{' '}
        </span>
      )}
      {short && known ? <abbr title={severity}>{severity.slice(0, 4)}</abbr> : severity}
    </span>
  );
}

/** Priority 0–100 as a number with its band, the same bands the overview counts incidents in. */
export function priorityBand(p: number): 'critical' | 'high' | 'medium' | 'low' {
  return p >= 80 ? 'critical' : p >= 60 ? 'high' : p >= 40 ? 'medium' : 'low';
}

export function PriorityValue({ priority }: { priority: number }) {
  const band = priorityBand(priority);
  return (
    <span className={`prio prio-${band}`} title={`Priority ${priority} of 100 (${band})`}>
      {Math.round(priority)}
    </span>
  );
}
