/**
 * Labelling CloudTrail records for training. Each label records the
 * labeller that produced it, so a model's training data can be audited and
 * labels from a better labeller (the LLM analyst, once configured) can
 * replace heuristic ones.
 *
 * The product's labellers know no data set: a file the user declares an
 * attack log (`--attack`) is attack throughout, anything else is benign
 * unless a labeller passed in says otherwise. Markers that belong to one
 * data set — such as the user agent that marks attack runs in the Invictus
 * data — live in evaluation scripts that say so (`scripts/eval/`), which
 * pass their labeller to {@link labelCloudTrailFiles}.
 */
import { basename } from 'node:path';
import { describeError } from '../../errors.ts';
import { readInputDocs } from '../../sources/archive.ts';
import { unwrapCloudTrail } from '../../sources/cloudtrail/parse.ts';
import { frameBody } from '../../sources/framing.ts';
import { expandInputs } from '../../sources/inputs.ts';

export type Label = 'attack' | 'benign';

export interface LabelResult {
  label: Label;
  labeller: string;
  reason: string;
}

/** A labeller answers for a record or passes (undefined) to the next one. */
export interface Labeller {
  readonly name: string;
  label(
    record: unknown,
    context: { declaredAttack: boolean },
  ): LabelResult | undefined | Promise<LabelResult | undefined>;
}

/** Files declared attack-only (`--attack`): every record in them is an attack. */
export const declaredAttackLabeller: Labeller = {
  name: 'heuristic:declared-attack-file',
  label: (_record, ctx) =>
    ctx.declaredAttack
      ? {
          label: 'attack',
          labeller: 'heuristic:declared-attack-file',
          reason: 'the file was declared an attack detonation log',
        }
      : undefined,
};

/** Whatever no other labeller claimed. */
export const defaultBenignLabeller: Labeller = {
  name: 'heuristic:default-benign',
  label: () => ({ label: 'benign', labeller: 'heuristic:default-benign', reason: 'no attack marker' }),
};

/** The rules-and-heuristics chain used when no analyst is configured: it knows no data set. */
export const HEURISTIC_LABELLERS: readonly Labeller[] = [declaredAttackLabeller, defaultBenignLabeller];

/**
 * Label one record with the first labeller that answers.
 *
 * @example
 * await labelRecord(record, HEURISTIC_LABELLERS, { declaredAttack: false });
 */
export async function labelRecord(
  record: unknown,
  labellers: readonly Labeller[],
  context: { declaredAttack: boolean },
): Promise<LabelResult> {
  for (const l of labellers) {
    const r = await l.label(record, context);
    if (r) return r;
  }
  return defaultBenignLabeller.label(record, context) as LabelResult;
}

export interface LabelFilesResult {
  /** JSON lines `{label, labeller, reason, source_file, record}`, one per record. */
  lines: string[];
  /** Records per "label by labeller". */
  counts: Record<string, number>;
  /** Documents that could not be read as CloudTrail, with the reason. */
  unreadable: Array<{ file: string; reason: string }>;
}

/**
 * Label every CloudTrail record of some files or directories.
 *
 * @example
 * const { lines } = await labelCloudTrailFiles(['trail.json'], { declaredAttack: false });
 */
export async function labelCloudTrailFiles(
  inputs: string[],
  options: { declaredAttack: boolean; labellers?: readonly Labeller[] },
): Promise<LabelFilesResult> {
  const labellers = options.labellers ?? HEURISTIC_LABELLERS;
  const out: LabelFilesResult = { lines: [], counts: {}, unreadable: [] };
  for (const path of await expandInputs(inputs)) {
    for (const doc of readInputDocs(path)) {
      let records: unknown[];
      try {
        records = frameBody(doc.text, 'json').flatMap((r) => unwrapCloudTrail(r.value));
      } catch (err) {
        out.unreadable.push({ file: doc.name, reason: describeError(err) });
        continue;
      }
      for (const record of records) {
        const r = await labelRecord(record, labellers, { declaredAttack: options.declaredAttack });
        const key = `${r.label} by ${r.labeller}`;
        out.counts[key] = (out.counts[key] ?? 0) + 1;
        // The file name only: the same data gives the same labels file (and model fingerprint) wherever it lives.
        out.lines.push(JSON.stringify({ ...r, source_file: basename(doc.name), record }));
      }
    }
  }
  return out;
}
