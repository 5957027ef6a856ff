/**
 * Our model file: a small JSON header (format version, feature set and
 * version, labels, training-data fingerprint, hyper-parameters, metrics)
 * followed by the tree arrays as raw little-endian binary, with a SHA-256 of
 * the arrays in the header. Loading is one read, one JSON.parse of a few
 * kilobytes, one hash and array views: milliseconds for a 100-tree forest.
 * The bytes depend only on the model, so the same seed gives the same file.
 *
 *   "AISOCMDL" | u32 format version | u32 header length | header JSON | padding to 8 | sections
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { z } from 'zod';
import { AisocError, describeError } from '../../errors.ts';
import type { Model, ModelMeta } from './model.ts';
import { markPureLeaves, type TreeEnsemble } from './trees/ensemble.ts';
import { validateEnsemble } from './trees/validate.ts';

const MAGIC = 'AISOCMDL';
export const MODEL_FORMAT_VERSION = 1;
/** File name extension of our model files. */
export const MODEL_EXTENSION = '.aisoc-model';

const SECTION_NAMES = ['nodes', 'leafValues', 'roots', 'treeGroup', 'baseScore'] as const;
type SectionName = (typeof SECTION_NAMES)[number];

const Section = z.strictObject({ offset: z.number().int().min(0), bytes: z.number().int().min(0) });

const Header = z.strictObject({
  format: z.literal('aisoc-model'),
  format_version: z.number().int(),
  meta: z.strictObject({
    algorithm: z.enum(['rf', 'gbdt', 'cart', 'xgboost']),
    feature_set: z
      .strictObject({ name: z.string(), version: z.number().int(), columns: z.array(z.string()) })
      .nullable(),
    labels: z.array(z.string()).min(2),
    negative_label: z.string().nullable(),
    training: z.record(z.string(), z.unknown()),
    hyperparameters: z.record(z.string(), z.unknown()),
    metrics: z.record(z.string(), z.unknown()),
  }),
  ensemble: z.strictObject({
    transform: z.enum(['average', 'softmax', 'sigmoid']),
    n_features: z.number().int().min(1),
    n_classes: z.number().int().min(2),
  }),
  sections: z.strictObject({
    nodes: Section,
    leafValues: Section,
    roots: Section,
    treeGroup: Section,
    baseScore: Section,
  }),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

function requireLittleEndian(): void {
  if (endianness() !== 'LE')
    throw new AisocError('AISOC_ERR_MODEL', 'Model files are little-endian; this platform is big-endian.');
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * Serialise a model to bytes.
 *
 * @example
 * writeFileSync('m.aisoc-model', encodeModel(model));
 */
export function encodeModel(model: Model): Buffer {
  requireLittleEndian();
  const e = model.ensemble;
  const arrays: Record<SectionName, ArrayBufferView> = {
    nodes: e.nodes,
    leafValues: e.leafValues,
    roots: e.roots,
    treeGroup: e.treeGroup,
    baseScore: e.baseScore,
  };
  const sections = {} as Record<SectionName, { offset: number; bytes: number }>;
  let offset = 0;
  for (const name of SECTION_NAMES) {
    const len = arrays[name].byteLength;
    sections[name] = { offset, bytes: len };
    offset += Math.ceil(len / 8) * 8;
  }
  const body = Buffer.alloc(offset);
  for (const name of SECTION_NAMES) body.set(bytesOf(arrays[name]), sections[name].offset);
  const header = {
    format: 'aisoc-model',
    format_version: MODEL_FORMAT_VERSION,
    meta: model.meta,
    ensemble: { transform: e.transform, n_features: e.nFeatures, n_classes: e.nClasses },
    sections,
    sha256: createHash('sha256').update(body).digest('hex'),
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const pre = Buffer.alloc(16);
  pre.write(MAGIC, 0, 'latin1');
  pre.writeUInt32LE(MODEL_FORMAT_VERSION, 8);
  pre.writeUInt32LE(json.length, 12);
  const pad = Buffer.alloc((8 - ((16 + json.length) % 8)) % 8, 0x20);
  return Buffer.concat([pre, json, pad, body]);
}

function corrupt(file: string, why: string): AisocError {
  return new AisocError('AISOC_ERR_MODEL', `${file} is not a usable model file: ${why}.`, { file });
}

/**
 * Parse model bytes; every inconsistency is an AISOC_ERR_MODEL naming it.
 *
 * @example
 * const model = decodeModel(readFileSync(path), path);
 */
export function decodeModel(buf: Buffer, file = 'model'): Model {
  requireLittleEndian();
  if (buf.length < 16 || buf.toString('latin1', 0, 8) !== MAGIC) {
    const start = buf.toString('utf8', 0, Math.min(buf.length, 64)).trimStart();
    if (start.startsWith('{'))
      throw corrupt(
        file,
        'it is JSON, not our binary format (an XGBoost model? configure it with format: xgboost)',
      );
    throw corrupt(file, 'it does not start with the AISOCMDL signature');
  }
  const version = buf.readUInt32LE(8);
  if (version !== MODEL_FORMAT_VERSION)
    throw corrupt(
      file,
      `format version ${version} is not supported (this build reads ${MODEL_FORMAT_VERSION})`,
    );
  const headerLen = buf.readUInt32LE(12);
  if (16 + headerLen > buf.length) throw corrupt(file, 'the header is truncated');
  let header: z.infer<typeof Header>;
  try {
    const parsed = Header.safeParse(JSON.parse(buf.toString('utf8', 16, 16 + headerLen)));
    if (!parsed.success)
      throw new Error(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    header = parsed.data;
  } catch (err) {
    throw corrupt(file, `the header is invalid (${describeError(err)})`);
  }
  const bodyStart = 16 + headerLen + ((8 - ((16 + headerLen) % 8)) % 8);
  const body = buf.subarray(bodyStart);
  if (createHash('sha256').update(body).digest('hex') !== header.sha256)
    throw corrupt(file, 'the checksum does not match (the file is damaged or was edited)');
  const section = (name: SectionName, width: number): ArrayBuffer => {
    const s = header.sections[name];
    if (s.offset + s.bytes > body.length || s.bytes % width !== 0)
      throw corrupt(file, `section ${name} is out of range`);
    // Copy into a fresh, aligned buffer: a Buffer's offset in its pool need not be aligned for typed arrays.
    return body.buffer.slice(body.byteOffset + s.offset, body.byteOffset + s.offset + s.bytes) as ArrayBuffer;
  };
  const nodesBuf = section('nodes', 4);
  const ensemble: TreeEnsemble = {
    transform: header.ensemble.transform,
    nFeatures: header.ensemble.n_features,
    nClasses: header.ensemble.n_classes,
    nodes: new Int32Array(nodesBuf),
    thresholds: new Float32Array(nodesBuf),
    roots: new Int32Array(section('roots', 4)),
    treeGroup: new Int32Array(section('treeGroup', 4)),
    leafValues: new Float32Array(section('leafValues', 4)),
    baseScore: new Float64Array(section('baseScore', 8)),
    missingLeft: false,
  };
  validateEnsemble(ensemble, file);
  markPureLeaves(ensemble);
  const meta = header.meta as ModelMeta;
  if (meta.labels.length !== ensemble.nClasses)
    throw corrupt(file, `it names ${meta.labels.length} labels for ${ensemble.nClasses} classes`);
  if (meta.feature_set && meta.feature_set.columns.length !== ensemble.nFeatures)
    throw corrupt(
      file,
      `feature set ${meta.feature_set.name} has ${meta.feature_set.columns.length} columns, the trees read ${ensemble.nFeatures}`,
    );
  return { meta, ensemble };
}

/** Write a model file. */
export function saveModel(path: string, model: Model): void {
  writeFileSync(path, encodeModel(model));
}

/** Read a model file of our format. */
export function loadModelFile(path: string): Model {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    throw new AisocError('AISOC_ERR_MODEL', `Cannot read the model file ${path}: ${describeError(err)}`, {
      file: path,
    });
  }
  return decodeModel(buf, path);
}
