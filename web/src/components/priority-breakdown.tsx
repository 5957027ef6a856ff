import './widgets.css';
import type { PriorityComponent } from '../lib/types.ts';
import { PriorityValue } from './severity-badge.tsx';

/** A priority as the sum of its explained parts (`scorePriority` on the server), in a table. */
export function PriorityBreakdown({
  priority,
  breakdown,
}: {
  priority: number;
  breakdown?: { score: number; components: PriorityComponent[] } | undefined;
}) {
  if (!breakdown?.components.length)
    return (
      <p>
        Priority <PriorityValue priority={priority} /> of 100.{' '}
        <span className="muted">The server sent no breakdown.</span>
      </p>
    );
  const sum = breakdown.components.reduce((s, c) => s + c.points, 0);
  return (
    <table className="compact breakdown">
      <caption className="visually-hidden">How the priority is made up</caption>
      <thead>
        <tr>
          <th scope="col">Factor</th>
          <th scope="col" className="num">
            Points
          </th>
          <th scope="col">Why</th>
        </tr>
      </thead>
      <tbody>
        {breakdown.components.map((c) => (
          <tr key={`${c.factor}:${c.reason}`}>
            <th scope="row">{c.factor}</th>
            <td className="num">{c.points > 0 ? `+${formatPoints(c.points)}` : formatPoints(c.points)}</td>
            <td>{c.reason}</td>
          </tr>
        ))}
      </tbody>
      <tfoot>
        <tr>
          <th scope="row">Priority</th>
          <td className="num">
            <PriorityValue priority={breakdown.score} />
          </td>
          <td className="muted">
            {Math.round(sum) !== Math.round(breakdown.score)
              ? `sum ${formatPoints(sum)}, clamped to 0–100`
              : 'out of 100'}
          </td>
        </tr>
      </tfoot>
    </table>
  );
}

function formatPoints(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}
