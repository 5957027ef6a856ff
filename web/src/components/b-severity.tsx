/** A severity as a word in its colour: the word carries the meaning, the colour only repeats it. */
export function Severity({ value }: { value: string }) {
  const known = ['critical', 'high', 'medium', 'low', 'informational'].includes(value);
  return <span className={known ? `sev sev-${value}` : 'sev'}>{value}</span>;
}
