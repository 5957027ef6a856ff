/** Preset time ranges: a range is computed when asked, so "last 24 hours" means the last 24 hours now. */
export const RANGES = [
  { id: '1h', label: 'Last hour', ms: 3_600_000 },
  { id: '24h', label: 'Last 24 hours', ms: 86_400_000 },
  { id: '7d', label: 'Last 7 days', ms: 7 * 86_400_000 },
  { id: '30d', label: 'Last 30 days', ms: 30 * 86_400_000 },
  { id: '90d', label: 'Last 90 days', ms: 90 * 86_400_000 },
] as const;

export type RangeId = (typeof RANGES)[number]['id'];

export function rangeOf(id: RangeId, now = Date.now()): { from: string; to: string } {
  const r = RANGES.find((x) => x.id === id) ?? RANGES[1];
  return { from: new Date(now - r.ms).toISOString(), to: new Date(now).toISOString() };
}

/** A `datetime-local` value (local wall time, no zone) as an ISO instant, or undefined when empty or invalid. */
export function isoFromLocal(value: string): string | undefined {
  if (!value) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** An ISO instant as a `datetime-local` value in local wall time. */
export function localFromIso(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function RangeSelect({
  id,
  value,
  onChange,
  label = 'Time range',
}: {
  id: string;
  value: RangeId;
  onChange: (v: RangeId) => void;
  label?: string;
}) {
  return (
    <span className="b-field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value as RangeId)}>
        {RANGES.map((r) => (
          <option key={r.id} value={r.id}>
            {r.label}
          </option>
        ))}
      </select>
    </span>
  );
}
