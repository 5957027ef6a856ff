import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Every path under `root` whose mode lets the group or others in, with its mode (empty when all is private). */
export function openToOthers(root: string): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    const st = statSync(p);
    if (st.mode & 0o077) out.push(`${p} ${(st.mode & 0o777).toString(8)}`);
    if (st.isDirectory()) for (const name of readdirSync(p)) walk(join(p, name));
  };
  walk(root);
  return out;
}
