import type { ReactNode } from 'react';
import './b-ui.css';

/**
 * A table that scrolls sideways on narrow screens. A scrolling box must be reachable by keyboard (axe:
 * scrollable-region-focusable), so the box is a named, focusable region.
 */
export function TableWrap({ label, children }: { label: string; children: ReactNode }) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: keyboard users scroll the table by focusing its box.
    <section className="b-table-wrap" aria-label={label} tabIndex={0}>
      {children}
    </section>
  );
}
