import type { CommandResult, CommandRunner } from '../local/runner.ts';

interface FakeSet {
  type: string;
  flags: string[];
  elems: string[];
}

interface FakeTable {
  chains: Map<string, { hook?: string; rules: string[][] }>;
  sets: Map<string, FakeSet>;
}

const ok = (stdout = ''): CommandResult => ({ code: 0, stdout, stderr: '' });
const missing = (what: string): CommandResult => ({
  code: 1,
  stdout: '',
  stderr: `Error: No such file or directory; did you mean ${what}?\n`,
});

/**
 * An in-memory nftables answering the exact argument arrays `local.block_ip`
 * runs (list set/chain as JSON, `-f -` with add statements, add rule, add
 * and delete element) as nft does, and failing the test on anything else.
 */
export class FakeNft {
  readonly tables = new Map<string, FakeTable>();
  readonly calls: Array<{ file: string; args: string[]; input?: string }> = [];
  failing = false;

  readonly runner: CommandRunner = async (file, args, options) => {
    this.calls.push({
      file,
      args: [...args],
      ...(options.input === undefined ? {} : { input: options.input }),
    });
    if (this.failing)
      return { code: 1, stdout: '', stderr: 'Error: Could not process rule: Operation not permitted\n' };
    return this.#run([...args], options.input);
  };

  /**
   * What is blocked, as `table/set element` lines, for the execute-then-rollback
   * check. Tables, chains and empty sets the action created stay after a
   * rollback by design (they block nothing), so only elements count.
   */
  snapshot(): string[] {
    const out: string[] = [];
    for (const [t, table] of this.tables)
      for (const [s, set] of table.sets) for (const e of set.elems) out.push(`${t}/${s} ${e}`);
    return out.sort();
  }

  addSet(family: string, table: string, name: string, type: string, elems: string[] = []): void {
    const t = this.#table(`${family} ${table}`, true)!;
    t.sets.set(name, { type, flags: [], elems: [...elems] });
  }

  #table(key: string, create = false): FakeTable | undefined {
    if (!this.tables.has(key) && create) this.tables.set(key, { chains: new Map(), sets: new Map() });
    return this.tables.get(key);
  }

  #run(args: string[], input?: string): CommandResult {
    const [a0, a1, a2, family, table, name, ...rest] = args;
    if (a0 === '-j' && a1 === 'list' && a2 === 'set') {
      const set = this.#table(`${family} ${table}`)?.sets.get(name!);
      if (!set) return missing(`table '${table}'`);
      const elem = set.elems.map((e) =>
        e.includes('/') ? { prefix: { addr: e.split('/')[0], len: Number(e.split('/')[1]) } } : e,
      );
      return ok(
        JSON.stringify({
          nftables: [
            { metainfo: { version: '1.0.6', json_schema_version: 1 } },
            {
              set: {
                family,
                name,
                table,
                type: set.type,
                handle: 3,
                flags: set.flags,
                ...(elem.length ? { elem } : {}),
              },
            },
          ],
        }),
      );
    }
    if (a0 === '-j' && a1 === 'list' && a2 === 'chain') {
      const chain = this.#table(`${family} ${table}`)?.chains.get(name!);
      if (!chain) return missing(`chain '${name}'`);
      const rules = chain.rules.map((r, i) => ({
        rule: {
          family,
          table,
          chain: name,
          handle: i + 10,
          expr: [
            { match: { op: '==', left: { payload: { protocol: r[0], field: r[1] } }, right: r[2] } },
            { counter: { packets: 0, bytes: 0 } },
            { drop: null },
          ],
        },
      }));
      return ok(
        JSON.stringify({
          nftables: [{ metainfo: { version: '1.0.6' } }, { chain: { family, table, name } }, ...rules],
        }),
      );
    }
    if (a0 === '-f' && a1 === '-' && args.length === 2) return this.#script(input ?? '');
    if (a0 === 'add' && a1 === 'rule') {
      const chain = this.#table(`${a2} ${family}`)?.chains.get(table!);
      if (!chain) return missing(`chain '${table}'`);
      // args: add rule <family> <table> <chain> <proto> saddr @set counter drop
      chain.rules.push([name!, rest[0]!, rest[1]!]);
      return ok();
    }
    if ((a0 === 'add' || a0 === 'delete') && a1 === 'element') {
      const set = this.#table(`${a2} ${family}`)?.sets.get(table!);
      if (!set) return missing(`set '${table}'`);
      const m = /^\{ (\S+)( timeout \d+s)? \}$/.exec(name ?? '');
      if (!m || rest.length > 0)
        throw new Error(`FakeNft: unexpected element syntax ${JSON.stringify(args)}`);
      const el = m[1]!;
      if (a0 === 'add') {
        if (m[2] && !set.flags.includes('timeout'))
          return { code: 1, stdout: '', stderr: 'Error: set does not support timeouts\n' };
        if (!set.elems.includes(el)) set.elems.push(el);
      } else {
        if (!set.elems.includes(el))
          return {
            code: 1,
            stdout: '',
            stderr: 'Error: Could not process rule: No such file or directory\n',
          };
        set.elems = set.elems.filter((e) => e !== el);
      }
      return ok();
    }
    throw new Error(`FakeNft: unexpected nft arguments ${JSON.stringify(args)}`);
  }

  #script(script: string): CommandResult {
    for (const line of script.split('\n').filter(Boolean)) {
      let m = /^add table (\w+) (\w+)$/.exec(line);
      if (m) {
        this.#table(`${m[1]} ${m[2]}`, true);
        continue;
      }
      m =
        /^add chain (\w+) (\w+) (\w+) \{ type filter hook (\w+) priority (-?\d+) ; policy accept ; \}$/.exec(
          line,
        );
      if (m) {
        const t = this.#table(`${m[1]} ${m[2]}`);
        if (!t) return missing(`table '${m[2]}'`);
        if (!t.chains.has(m[3]!)) t.chains.set(m[3]!, { hook: m[4]!, rules: [] });
        continue;
      }
      m = /^add set (\w+) (\w+) (\w+) \{ type (ipv4_addr|ipv6_addr) ;( flags timeout ;)? \}$/.exec(line);
      if (m) {
        const t = this.#table(`${m[1]} ${m[2]}`);
        if (!t) return missing(`table '${m[2]}'`);
        if (!t.sets.has(m[3]!)) t.sets.set(m[3]!, { type: m[4]!, flags: m[5] ? ['timeout'] : [], elems: [] });
        continue;
      }
      return { code: 1, stdout: '', stderr: `Error: syntax error, unexpected junk\n${line}\n` };
    }
    return ok();
  }
}
