import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { useTheme } from '../lib/theme.tsx';
import { SEVERITIES, type SeverityName } from '../lib/types.ts';
import { formatTime } from './time.tsx';
import './widgets.css';

export type SeverityPoint = { t: string } & Record<SeverityName, number>;

/** Severities from the bottom of a stack to its top: the worst sits on the axis, where it is easiest to read. */
const STACK: readonly SeverityName[] = ['critical', 'high', 'medium', 'low', 'informational'];

function canDraw(): boolean {
  // uPlot draws on a 2D canvas; where there is none (a DOM without layout), the table below says the same.
  try {
    return Boolean(document.createElement('canvas').getContext('2d'));
  } catch {
    return false;
  }
}

/**
 * Alerts per severity over time as stacked bars (uPlot, on a canvas). The canvas is an image to assistive
 * technology: it carries an aria-label, and a visually hidden table summarises the same numbers.
 */
export function SeverityChart({ points, label }: { points: readonly SeverityPoint[]; label: string }) {
  const ref = useRef<HTMLDivElement>(null);
  const { theme } = useTheme();

  useEffect(() => {
    const el = ref.current;
    if (!el || !points.length || !canDraw()) return;
    // Colours come from the theme's CSS variables. The chart's own box carries the theme attribute, so they
    // resolve for the new theme even before the provider has restyled the page (parents' effects run later).
    el.dataset.theme = theme;
    const css = getComputedStyle(el);
    const v = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
    const xs = points.map((p) => Date.parse(p.t) / 1000);
    // uPlot has no stacking: each series is drawn as the running total up to its severity, the tallest first,
    // so each visible band is one severity's count.
    const cumulative: number[][] = [];
    let run = points.map(() => 0);
    for (const s of STACK) {
      run = run.map((r, i) => r + (points[i]?.[s] ?? 0));
      cumulative.push(run);
    }
    const order = [...STACK].reverse();
    const series: uPlot.Series[] = [
      {},
      ...order.map((s) => ({
        label: s,
        fill: v(`--sev-${s}`, '#888'),
        stroke: v(`--sev-${s}`, '#888'),
        width: 0,
        paths: uPlot.paths.bars?.({ size: [0.85, 48], align: 0 }),
        points: { show: false },
      })),
    ];
    const data: uPlot.AlignedData = [xs, ...order.map((s) => cumulative[STACK.indexOf(s)] ?? [])];
    const axis = {
      stroke: v('--muted', '#555'),
      grid: { stroke: v('--border', '#ddd'), width: 1 },
      ticks: { stroke: v('--border', '#ddd'), width: 1 },
    };
    const plot = new uPlot(
      {
        width: Math.max(280, el.clientWidth),
        height: 220,
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
        axes: [axis, { ...axis, size: 44 }],
        series,
      },
      data,
      el,
    );
    const resize = new ResizeObserver(() =>
      plot.setSize({ width: Math.max(280, el.clientWidth), height: 220 }),
    );
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [points, theme]);

  const totals = SEVERITIES.map((s) => {
    let total = 0;
    let peak = 0;
    let peakAt = '';
    for (const p of points) {
      const n = p[s] ?? 0;
      total += n;
      if (n > peak) {
        peak = n;
        peakAt = p.t;
      }
    }
    return { s, total, peak, peakAt };
  });

  return (
    <figure className="chart">
      <div ref={ref} className="chart-canvas" role="img" aria-label={label} />
      <figcaption>
        <ul className="inline-list legend" aria-hidden="true">
          {[...STACK].reverse().map((s) => (
            <li key={s}>
              <span className={`swatch swatch-${s}`} /> {s}
            </li>
          ))}
        </ul>
      </figcaption>
      {/* A table ignores a 1px width: the clipping box around it keeps it off the layout. */}
      <div className="visually-hidden">
        <table>
          <caption>{label}: totals and peaks per severity</caption>
          <thead>
            <tr>
              <th scope="col">Severity</th>
              <th scope="col">Alerts</th>
              <th scope="col">Busiest interval</th>
            </tr>
          </thead>
          <tbody>
            {totals.map((r) => (
              <tr key={r.s}>
                <th scope="row">{r.s}</th>
                <td>{r.total}</td>
                <td>{r.peak ? `${r.peak} at ${formatTime(r.peakAt)}` : 'none'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </figure>
  );
}
