import type { SnapshotReader, SnapshotWriter, StringTable } from '../snapshot/format.ts';
import {
  type AttackDomain,
  type AttackKnowledge,
  attackLabel,
  type DetectionStrategy,
  type DomainSummary,
  domainOf,
  type LoadStats,
  type ProcedureExample,
  type Tactic,
  type Technique,
} from './model.ts';

/** A procedure example as the catalog keeps it: without the marked-up description. */
export type CatalogProcedure = Omit<ProcedureExample, 'description'>;

/** What identifies and sizes a loaded ATT&CK release. */
export interface AttackSummary {
  label: string;
  version?: string;
  spec_version?: string;
  stix_version: '2.0' | '2.1';
  modified?: string;
  source: string;
  techniques: number;
  procedures: number;
  mitigations: number;
  stats: LoadStats;
  /** The domains loaded (Enterprise, Mobile, ICS), each with its bundle and technique count. */
  domains?: DomainSummary[];
}

/**
 * ATT&CK as the server holds it once loaded: records kept as JSON text in a
 * snapshot and decoded when asked for (a technique view, an analyst's
 * lookup), with small indexes by id. The parsed bundle (`AttackKnowledge`)
 * is several hundred megabytes of objects while it is built; this is the
 * part of it the product reads afterwards, at a fraction of the memory.
 *
 * @example
 * const catalog = AttackCatalog.readFrom(reader, 'attack');
 * catalog.technique(catalog.currentId('T1574.002')!)?.name // 'DLL' (revoked id resolved)
 */
/** A technique in a listing: what a coverage matrix shows of it. */
export interface TechniqueSummary {
  id: string;
  name: string;
  domain: AttackDomain;
  /** Tactic short names, in kill-chain order. */
  tactics: string[];
  is_subtechnique: boolean;
  parent_id?: string;
}

export class AttackCatalog {
  private listing?: TechniqueSummary[];
  private readonly techniqueAt = new Map<string, number>();
  private readonly strategyAt = new Map<string, number>();
  private readonly revoked: Map<string, string>;

  private constructor(
    readonly summary: AttackSummary,
    readonly tactics: Tactic[],
    revoked: Array<[string, string]>,
    private readonly techniques: StringTable,
    private readonly strategies: StringTable,
    private readonly procedures: StringTable,
    private readonly procedureStarts: Uint32Array,
    private readonly procedureRows: Int32Array,
    techniqueIds: StringTable,
    strategyIds: StringTable,
  ) {
    this.revoked = new Map(revoked);
    for (let i = 0; i < techniqueIds.length; i++) this.techniqueAt.set(techniqueIds.get(i), i);
    for (let i = 0; i < strategyIds.length; i++) this.strategyAt.set(strategyIds.get(i), i);
  }

  /** Write the parts of `attack` the catalog serves. */
  static writeTo(attack: AttackKnowledge, w: SnapshotWriter, prefix: string): void {
    const techniques = [...attack.techniques.values()];
    const strategies = [...attack.detection_strategies.values()];
    const at = new Map(techniques.map((t, i) => [t.id, i]));
    const byTechnique: number[][] = techniques.map(() => []);
    attack.procedures.forEach((p, i) => {
      const t = at.get(p.technique_id);
      if (t !== undefined) byTechnique[t]!.push(i);
    });
    const starts = new Uint32Array(techniques.length + 1);
    let n = 0;
    byTechnique.forEach((rows, t) => {
      starts[t] = n;
      n += rows.length;
    });
    starts[techniques.length] = n;
    const summary: AttackSummary = {
      label: attackLabel(attack),
      stix_version: attack.stix_version,
      source: attack.source,
      techniques: attack.techniques.size,
      procedures: attack.procedures.length,
      mitigations: attack.mitigations.size,
      stats: attack.stats,
    };
    if (attack.domains) summary.domains = attack.domains;
    if (attack.version) summary.version = attack.version;
    if (attack.spec_version) summary.spec_version = attack.spec_version;
    if (attack.modified) summary.modified = attack.modified;
    w.meta(`${prefix}.summary`, summary);
    w.meta(`${prefix}.tactics`, [...attack.tactics.values()]);
    w.meta(`${prefix}.revoked`, [...attack.revoked]);
    w.strings(
      `${prefix}.techniques.ids`,
      techniques.map((t) => t.id),
    );
    w.strings(
      `${prefix}.techniques.json`,
      techniques.map((t) => JSON.stringify(t)),
    );
    w.strings(
      `${prefix}.strategies.ids`,
      strategies.map((d) => d.id),
    );
    w.strings(
      `${prefix}.strategies.json`,
      strategies.map((d) => JSON.stringify(d)),
    );
    // What a technique's view shows of a procedure: the plain text (its marked-up description doubled the size).
    w.strings(
      `${prefix}.procedures.json`,
      attack.procedures.map((p) =>
        JSON.stringify({
          stix_id: p.stix_id,
          technique_id: p.technique_id,
          source_id: p.source_id,
          source_kind: p.source_kind,
          source_name: p.source_name,
          text: p.text,
        } satisfies CatalogProcedure),
      ),
    );
    w.array(`${prefix}.procedures.starts`, starts);
    w.array(`${prefix}.procedures.rows`, Int32Array.from(byTechnique.flat()));
  }

  static readFrom(r: SnapshotReader, prefix: string): AttackCatalog {
    return new AttackCatalog(
      r.meta<AttackSummary>(`${prefix}.summary`),
      r.meta<Tactic[]>(`${prefix}.tactics`),
      r.meta<Array<[string, string]>>(`${prefix}.revoked`),
      r.strings(`${prefix}.techniques.json`),
      r.strings(`${prefix}.strategies.json`),
      r.strings(`${prefix}.procedures.json`),
      r.u32(`${prefix}.procedures.starts`),
      r.i32(`${prefix}.procedures.rows`),
      r.strings(`${prefix}.techniques.ids`),
      r.strings(`${prefix}.strategies.ids`),
    );
  }

  get label(): string {
    return this.summary.label;
  }

  /** A technique by its exact id (see {@link currentId} for revoked ids). */
  technique(id: string): Technique | undefined {
    const i = this.techniqueAt.get(id);
    return i === undefined ? undefined : (JSON.parse(this.techniques.get(i)) as Technique);
  }

  /**
   * Every technique and sub-technique, light, in id order: parsed from the
   * snapshot once, on first use (a coverage matrix asks for all of them).
   */
  listTechniques(): TechniqueSummary[] {
    if (!this.listing) {
      const out: TechniqueSummary[] = [];
      for (const id of this.techniqueAt.keys()) {
        const t = this.technique(id)!;
        const s: TechniqueSummary = {
          id: t.id,
          name: t.name,
          domain: domainOf(t),
          tactics: t.tactics,
          is_subtechnique: t.is_subtechnique,
        };
        if (t.parent_id) s.parent_id = t.parent_id;
        out.push(s);
      }
      this.listing = out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    }
    return this.listing;
  }

  /** The current id of a technique id: itself when active, its replacement when revoked. */
  currentId(id: string): string | undefined {
    if (this.techniqueAt.has(id)) return id;
    return this.revoked.get(id);
  }

  /** `Parent: Child` for a sub-technique, the name otherwise. */
  fullName(t: Technique): string {
    const parent = t.parent_id ? this.technique(t.parent_id) : undefined;
    return parent ? `${parent.name}: ${t.name}` : t.name;
  }

  detectionStrategy(id: string): DetectionStrategy | undefined {
    const i = this.strategyAt.get(id);
    return i === undefined ? undefined : (JSON.parse(this.strategies.get(i)) as DetectionStrategy);
  }

  /** Procedure examples of a technique, in bundle order. */
  proceduresOf(techniqueId: string, limit = Number.POSITIVE_INFINITY): CatalogProcedure[] {
    const t = this.techniqueAt.get(techniqueId);
    if (t === undefined) return [];
    const out: CatalogProcedure[] = [];
    const end = Math.min(this.procedureStarts[t + 1]!, this.procedureStarts[t]! + limit);
    for (let k = this.procedureStarts[t]!; k < end; k++)
      out.push(JSON.parse(this.procedures.get(this.procedureRows[k]!)) as CatalogProcedure);
    return out;
  }

  /** How many procedure examples a technique has. */
  procedureCount(techniqueId: string): number {
    const t = this.techniqueAt.get(techniqueId);
    return t === undefined ? 0 : this.procedureStarts[t + 1]! - this.procedureStarts[t]!;
  }
}
