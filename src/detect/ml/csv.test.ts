import { describe, expect, it } from 'vitest';
import { parseCsv } from './csv.ts';

async function all(chunks: string[]) {
  const out: Array<{ line: number; fields: string[] }> = [];
  for await (const r of parseCsv(chunks)) out.push(r);
  return out;
}

const TEXT = 'a,b,c\r\n1,"two, too","say ""hi"""\n,,\n"multi\nline",x,Infinity\nlast,row,NaN';

describe('CSV reader', () => {
  it('handles quotes, doubled quotes, CR LF, empty cells and newlines in quotes', async () => {
    expect(await all([TEXT])).toEqual([
      { line: 1, fields: ['a', 'b', 'c'] },
      { line: 2, fields: ['1', 'two, too', 'say "hi"'] },
      { line: 3, fields: ['', '', ''] },
      { line: 4, fields: ['multi\nline', 'x', 'Infinity'] },
      { line: 6, fields: ['last', 'row', 'NaN'] },
    ]);
  });

  it('gives the same records whatever the chunk boundaries', async () => {
    const whole = await all([TEXT]);
    for (const size of [1, 2, 3, 7]) {
      const chunks: string[] = [];
      for (let i = 0; i < TEXT.length; i += size) chunks.push(TEXT.slice(i, i + size));
      expect(await all(chunks)).toEqual(whole);
    }
  });

  it('reports an unterminated quote with the line it starts on', async () => {
    await expect(all(['a,b\n1,"open\n2,3\n'])).rejects.toThrow(/line 2/);
  });
});
