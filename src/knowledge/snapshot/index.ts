/**
 * The ATT&CK part of the knowledge base, built ahead of time: the catalog
 * of ATT&CK records, the `mitre_attack` collection (documents and BM25
 * index) and the text→technique mapper, in one snapshot. A worker builds it
 * from the bundle (`worker.ts`); the main thread only opens it.
 */
import { AttackCatalog } from '../attack/catalog.ts';
import { attackDocuments } from '../attack/documents.ts';
import type { AttackKnowledge } from '../attack/model.ts';
import { Collection } from '../collections.ts';
import { type LabelledText, type MapperParams, TechniqueMapper } from '../mapper/index.ts';
import { SnapshotReader, SnapshotWriter } from './format.ts';

export interface AttackIndex {
  catalog: AttackCatalog;
  /** The `mitre_attack` collection over the snapshot. */
  collection: Collection;
  mapper: TechniqueMapper;
}

export interface AttackIndexOptions {
  /** Labelled examples the mapper learns from beside ATT&CK. */
  extra?: readonly LabelledText[];
  params?: Partial<MapperParams>;
}

/**
 * Build the snapshot (CPU-heavy: seconds for Enterprise ATT&CK; run it in a
 * worker, see `buildInWorker`).
 *
 * @example const bytes = buildAttackIndex(readAttackBundle(path));
 */
export function buildAttackIndex(attack: AttackKnowledge, options: AttackIndexOptions = {}): ArrayBuffer {
  const w = new SnapshotWriter();
  AttackCatalog.writeTo(attack, w, 'attack');
  const c = new Collection('mitre_attack', '');
  for (const d of attackDocuments(attack)) c.upsert(d);
  c.writeTo(w, 'mitre_attack');
  TechniqueMapper.fit(attack, { extra: options.extra ?? [], params: options.params ?? {} }).writeTo(
    w,
    'mapper',
  );
  return w.finish();
}

/**
 * Open a snapshot {@link buildAttackIndex} made: views over its bytes and a
 * few small maps by id, tens of milliseconds in all, yielding (`pause`)
 * between the parts.
 */
export async function openAttackIndex(
  bytes: Uint8Array | ArrayBuffer,
  description: string,
  pause: () => Promise<void> = () => new Promise((r) => setImmediate(r)),
): Promise<AttackIndex> {
  const r = SnapshotReader.open(bytes);
  const catalog = AttackCatalog.readFrom(r, 'attack');
  await pause();
  const collection = Collection.readFrom(r, 'mitre_attack', 'mitre_attack', description);
  await pause();
  return { catalog, collection, mapper: TechniqueMapper.readFrom(r, 'mapper') };
}
