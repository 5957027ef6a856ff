/**
 * Split prose into sentences. Good enough for ATT&CK and report text:
 * breaks after `.`, `!` or `?` followed by a space and a capital letter or a
 * digit, and at blank lines, but not after common abbreviations (`e.g.`,
 * `i.e.`, `etc.`, `vs.`) or inside file names such as `lsass.exe`.
 *
 * @example splitSentences('It runs. Then it stops.') // ['It runs.', 'Then it stops.']
 */
export function splitSentences(text: string): string[] {
  const out: string[] = [];
  for (const para of text.split(/\n\s*\n|\n(?=\s*[-*•]\s)/)) {
    const flat = para.replace(/\s+/g, ' ').trim();
    if (!flat) continue;
    let start = 0;
    const re = /[.!?]["')\]]?\s+(?=["'([]?[A-Z0-9])/g;
    for (let m = re.exec(flat); m; m = re.exec(flat)) {
      const before = flat.slice(Math.max(0, m.index - 5), m.index + 1).toLowerCase();
      if (/(?:\be\.g|\bi\.e|\betc|\bvs|\bno|\bal|\bcf|\bmr|\bdr|\bst)\.$/.test(before)) continue;
      out.push(flat.slice(start, m.index + m[0].trimEnd().length).trim());
      start = m.index + m[0].length;
    }
    const rest = flat.slice(start).trim();
    if (rest) out.push(rest);
  }
  return out;
}
