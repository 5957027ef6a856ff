import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { AisocError, describeError } from '../../errors.ts';
import { TopK } from './topk.ts';

export interface VectorHit {
  id: string;
  /** Cosine similarity, -1–1. */
  similarity: number;
}

/**
 * Dense vectors kept in process: one growable Float32 matrix of unit-length
 * rows, searched exhaustively (for ~20,000 rows of 768 dimensions a query is
 * ~15 M multiply-adds, a few milliseconds; an approximate index would add a
 * dependency and recall loss for no gain at this size).
 *
 * Each row remembers a hash of the text it embeds, so a restart re-embeds
 * only documents that changed, and the model it came from: vectors of two
 * models never mix.
 *
 * @example
 * const store = new VectorStore('nomic-embed-text');
 * store.upsert('T1003', [0.1, 0.2], 'hash');
 * store.search([0.1, 0.2], 1)[0]?.id // 'T1003'
 */
export class VectorStore {
  private rows = new Float32Array(0);
  private dims = 0;
  private rowIds: Array<string | null> = [];
  private hashes: string[] = [];
  private readonly byId = new Map<string, number>();
  private free: number[] = [];

  constructor(readonly model: string) {}

  get size(): number {
    return this.byId.size;
  }

  get dimensions(): number {
    return this.dims;
  }

  /** Ids with a vector. */
  ids(): string[] {
    return [...this.byId.keys()];
  }

  /** The text hash a document was embedded from, if it has a vector. */
  hashOf(id: string): string | undefined {
    const row = this.byId.get(id);
    return row === undefined ? undefined : this.hashes[row];
  }

  upsert(id: string, vector: ArrayLike<number>, hash: string): void {
    if (vector.length === 0) throw new AisocError('AISOC_ERR_EMBEDDINGS', `The vector for ${id} is empty.`);
    if (this.dims === 0) this.dims = vector.length;
    if (vector.length !== this.dims)
      throw new AisocError(
        'AISOC_ERR_EMBEDDINGS',
        `The vector for ${id} has ${vector.length} dimensions; the store holds ${this.dims} (model ${this.model}).`,
      );
    let row = this.byId.get(id);
    if (row === undefined) {
      row = this.free.pop() ?? this.rowIds.length;
      if (row === this.rowIds.length) {
        this.rowIds.push(null);
        this.hashes.push('');
      }
      this.byId.set(id, row);
    }
    this.ensure(row + 1);
    let norm = 0;
    for (let i = 0; i < vector.length; i++) norm += vector[i]! * vector[i]!;
    norm = Math.sqrt(norm) || 1;
    const base = row * this.dims;
    for (let i = 0; i < vector.length; i++) this.rows[base + i] = vector[i]! / norm;
    this.rowIds[row] = id;
    this.hashes[row] = hash;
  }

  remove(id: string): boolean {
    const row = this.byId.get(id);
    if (row === undefined) return false;
    this.byId.delete(id);
    this.rowIds[row] = null;
    this.hashes[row] = '';
    this.free.push(row);
    return true;
  }

  private ensure(rows: number): void {
    const need = rows * this.dims;
    if (this.rows.length >= need) return;
    const next = new Float32Array(Math.max(need, this.rows.length * 2, this.dims * 64));
    next.set(this.rows);
    this.rows = next;
  }

  /** The `topK` rows most similar to `query` (cosine), best first. */
  search(query: ArrayLike<number>, topK: number, filter?: (id: string) => boolean): VectorHit[] {
    if (this.size === 0 || topK <= 0) return [];
    if (query.length !== this.dims)
      throw new AisocError(
        'AISOC_ERR_EMBEDDINGS',
        `The query vector has ${query.length} dimensions; the store holds ${this.dims} (model ${this.model}).`,
      );
    let norm = 0;
    for (let i = 0; i < query.length; i++) norm += query[i]! * query[i]!;
    norm = Math.sqrt(norm) || 1;
    const q = new Float32Array(this.dims);
    for (let i = 0; i < this.dims; i++) q[i] = query[i]! / norm;
    const top = new TopK(topK);
    const d = this.dims;
    for (let row = 0; row < this.rowIds.length; row++) {
      const id = this.rowIds[row];
      if (id === null || id === undefined) continue;
      let dot = 0;
      const base = row * d;
      for (let i = 0; i < d; i++) dot += q[i]! * this.rows[base + i]!;
      if (dot <= top.floor) continue;
      if (filter && !filter(id)) continue;
      top.push(row, dot);
    }
    return top.sorted().map(({ id: row, score }) => ({ id: this.rowIds[row]!, similarity: score }));
  }

  /**
   * Write to `file` atomically: a JSON header line (model, dimensions, ids,
   * text hashes) then the rows as little-endian float32.
   */
  save(file: string): void {
    const live = [...this.byId.entries()].sort((a, b) => a[1] - b[1]);
    const header = JSON.stringify({
      format: 'aisoc-vectors/1',
      model: this.model,
      dimensions: this.dims,
      ids: live.map(([id]) => id),
      hashes: live.map(([, row]) => this.hashes[row]),
    });
    const body = new Float32Array(live.length * this.dims);
    live.forEach(([, row], i) => {
      body.set(this.rows.subarray(row * this.dims, (row + 1) * this.dims), i * this.dims);
    });
    mkdirSync(dirname(file), { recursive: true });
    const tmp = `${file}.tmp-${process.pid}`;
    const head = Buffer.from(`${header}\n`, 'utf8');
    const data = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    writeFileSync(tmp, Buffer.concat([head, data]));
    renameSync(tmp, file);
  }

  /**
   * Read a file written by {@link save}. A file for another model, or a
   * damaged one, is refused with an error saying so (the caller re-embeds).
   */
  static load(file: string, model: string): VectorStore {
    let buf: Buffer;
    try {
      buf = readFileSync(file);
    } catch (err) {
      throw new AisocError(
        'AISOC_ERR_EMBEDDINGS',
        `Cannot read the vector file ${file}: ${describeError(err)}`,
        {
          file,
        },
      );
    }
    const nl = buf.indexOf(10);
    let header: { format?: string; model?: string; dimensions?: number; ids?: string[]; hashes?: string[] };
    try {
      header = JSON.parse(buf.subarray(0, Math.max(nl, 0)).toString('utf8'));
    } catch {
      throw new AisocError('AISOC_ERR_EMBEDDINGS', `The vector file ${file} has no valid header.`, { file });
    }
    const { ids, hashes, dimensions } = header;
    if (header.format !== 'aisoc-vectors/1' || !Array.isArray(ids) || !Array.isArray(hashes) || !dimensions)
      throw new AisocError(
        'AISOC_ERR_EMBEDDINGS',
        `The vector file ${file} is not in the aisoc-vectors/1 format.`,
        {
          file,
        },
      );
    if (header.model !== model)
      throw new AisocError(
        'AISOC_ERR_EMBEDDINGS',
        `The vector file ${file} holds vectors of model ${header.model}, not ${model}.`,
        { file },
      );
    const bytes = buf.subarray(nl + 1);
    if (bytes.byteLength !== ids.length * dimensions * 4)
      throw new AisocError('AISOC_ERR_EMBEDDINGS', `The vector file ${file} is truncated.`, { file });
    // Copy into a fresh, aligned buffer (the file buffer's offset need not be a multiple of 4).
    const data = new Float32Array(ids.length * dimensions);
    new Uint8Array(data.buffer).set(bytes);
    const store = new VectorStore(model);
    store.dims = dimensions;
    store.rows = data;
    store.rowIds = [...ids];
    store.hashes = hashes.map(String);
    ids.forEach((id, row) => {
      store.byId.set(id, row);
    });
    return store;
  }
}
