/**
 * JSON text safe for PostgreSQL `jsonb`: PostgreSQL rejects the escape
 * `\u0000` and unpaired UTF-16 surrogates, both of which JSON.stringify can
 * produce from hostile log lines. They become U+FFFD, the replacement
 * character; everything else is unchanged.
 */
export function toPgJson(value: unknown): string {
  const text = JSON.stringify(value) ?? 'null';
  if (!text.includes('\\u0000') && !/\\ud[89a-f]/i.test(text)) return text;
  let out = '';
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch !== '\\') {
      out += ch;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next !== 'u') {
      out += text.slice(i, i + 2);
      i += 2;
      continue;
    }
    const hex = text.slice(i + 2, i + 6);
    const code = Number.parseInt(hex, 16);
    if (code === 0) {
      out += '\\ufffd';
      i += 6;
      continue;
    }
    if (code >= 0xd800 && code <= 0xdbff) {
      const after = text.slice(i + 6, i + 12);
      const low = after.startsWith('\\u') ? Number.parseInt(after.slice(2), 16) : Number.NaN;
      if (low >= 0xdc00 && low <= 0xdfff) {
        out += text.slice(i, i + 12);
        i += 12;
      } else {
        out += '\\ufffd';
        i += 6;
      }
      continue;
    }
    if (code >= 0xdc00 && code <= 0xdfff) {
      out += '\\ufffd';
      i += 6;
      continue;
    }
    out += text.slice(i, i + 6);
    i += 6;
  }
  return out;
}
