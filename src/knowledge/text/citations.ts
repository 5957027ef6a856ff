/**
 * ATT&CK text carries markup meant for its web site: `(Citation: Source Name)`
 * markers, Markdown links to other ATT&CK pages, `<code>` tags. It is kept for
 * display (the UI can turn citations into references) and removed for
 * indexing and for the plain text an analyst or an LLM reads, where it is
 * noise that would also match queries about the cited vendors.
 */

const CITATION = /\s*\(Citation:[^)]*\)/g;
const MARKDOWN_LINK = /\[([^\]]*)\]\((?:[^()\s]|\([^()\s]*\))*\)/g;
const HTML_TAG = /<\/?(?:code|b|i|em|strong|br|p|sup|sub)\s*\/?>/gi;

/**
 * Plain text from ATT&CK markup: citations dropped, links reduced to their
 * label, inline HTML tags removed, runs of spaces folded.
 *
 * @example
 * stripCitations('[Mimikatz](https://attack.mitre.org/software/S0002) dumps LSASS.(Citation: Deply)')
 * // 'Mimikatz dumps LSASS.'
 */
export function stripCitations(text: string): string {
  // Most short texts carry no markup at all; skip the regular expressions for them.
  if (!/[([<]|\s\s|\n/.test(text)) return text.trim();
  return text
    .replace(CITATION, '')
    .replace(MARKDOWN_LINK, '$1')
    .replace(HTML_TAG, '')
    .replace(/[ \t]+/g, ' ')
    .replace(/ *\n */g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/**
 * The citation source names a text refers to, in order of first use, so the
 * display can list references without re-parsing.
 *
 * @example citationNames('a (Citation: X) b (Citation: Y)(Citation: X)') // ['X', 'Y']
 */
export function citationNames(text: string): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(/\(Citation:\s*([^)]*)\)/g)) {
    const name = m[1]?.trim();
    if (name) out.add(name);
  }
  return [...out];
}
