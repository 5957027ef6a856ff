import { basename } from 'node:path';
import { AisocError } from '../errors.ts';

/** POSIX tar archives, read in memory: the entries `readInputDocs` (archive.ts) turns into documents. */

/** A POSIX (ustar) tar archive: the magic sits at byte 257 of the first header. */
export function isTar(buf: Buffer): boolean {
  return buf.length >= 512 && buf.toString('latin1', 257, 262) === 'ustar';
}

function cString(buf: Buffer, start: number, length: number): string {
  const end = buf.indexOf(0, start);
  return buf.toString('utf8', start, end < 0 || end > start + length ? start + length : end);
}

/**
 * The regular files of a tar archive. Reads ustar headers with their name
 * prefix, pax extended headers (`path=`, which macOS and GNU tar write for
 * long names) and GNU long names; other entry types (directories, links)
 * are passed over. An entry that runs past the end is an error naming the
 * archive, never a silently short document.
 */
export function untar(buf: Buffer, archive: string): Array<{ name: string; data: Buffer }> {
  return tarEntries(buf).map((e) => {
    if (e.cut) {
      throw new AisocError(
        'AISOC_ERR_BAD_ENCODING',
        `${basename(archive)} is a truncated tar archive (entry ${e.name} is cut short)`,
        { field: archive },
      );
    }
    return e;
  });
}

/** The file entries of a tar archive, or of its start: the last may be `cut` short. */
export function tarEntries(buf: Buffer): Array<{ name: string; data: Buffer; cut: boolean }> {
  const out: Array<{ name: string; data: Buffer; cut: boolean }> = [];
  let longName: string | undefined;
  let offset = 0;
  while (offset + 512 <= buf.length) {
    const header = buf.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break;
    const sizeText = cString(header, 124, 12).trim();
    const size = sizeText === '' ? 0 : Number.parseInt(sizeText, 8);
    if (!Number.isFinite(size) || size < 0) break;
    const start = offset + 512;
    const data = buf.subarray(start, Math.min(buf.length, start + size));
    const cut = start + size > buf.length;
    const type = String.fromCharCode(header[156] ?? 0);
    const ustar = header.toString('latin1', 257, 262) === 'ustar';
    const prefix = ustar ? cString(header, 345, 155) : '';
    const headerName = prefix ? `${prefix}/${cString(header, 0, 100)}` : cString(header, 0, 100);
    if (type === 'x') {
      // Pax records: "<length> <key>=<value>\n"; only the path matters here.
      const m = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(data.toString('utf8'));
      longName = m?.[1] ?? longName;
    } else if (type === 'L') {
      longName = cString(data, 0, data.length);
    } else if (type !== 'g') {
      // 'g' is a global pax header (defaults for every entry, nothing used here); '0', NUL and '7' are files.
      if (type === '0' || type === '\0' || type === '7')
        out.push({ name: longName ?? headerName, data, cut });
      longName = undefined;
    }
    if (cut) break;
    offset = start + Math.ceil(size / 512) * 512;
  }
  return out;
}
