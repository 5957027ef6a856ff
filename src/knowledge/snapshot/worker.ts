/**
 * The knowledge-index build worker: reads the ATT&CK bundle and the
 * mapper's training files, builds the snapshot, and moves its bytes to the
 * main thread (a transfer, not a copy). Everything it allocates on the way,
 * the parsed bundle above all, dies with the thread.
 */
import { parentPort } from 'node:worker_threads';
import { AisocError, describeError } from '../../errors.ts';
import { readAttackBundle } from '../attack/load.ts';
import { mergeAttackDomains } from '../attack/merge.ts';
import { readLabelled } from '../mapper/datasets.ts';
import type { BuildJob, WorkerMessage } from './build.ts';
import { buildAttackIndex } from './index.ts';

function post(msg: WorkerMessage, transfer: ArrayBuffer[] = []): void {
  parentPort!.postMessage(msg, transfer);
}

parentPort?.once('message', (job: BuildJob) => {
  try {
    const started = performance.now();
    post({ type: 'phase', phase: 'parsing' });
    const attack = mergeAttackDomains([
      readAttackBundle(job.bundle),
      ...(job.extra_bundles ?? []).map((b) => readAttackBundle(b)),
    ]);
    post({ type: 'phase', phase: 'indexing' });
    const warnings: string[] = [];
    const extra = job.training_files.flatMap((f) => {
      try {
        return readLabelled(f);
      } catch (err) {
        warnings.push(`Mapper training file skipped: ${describeError(err)}`);
        return [];
      }
    });
    const bytes = buildAttackIndex(attack, { extra, params: job.params });
    if (job.hold) {
      // A test holds the build here, mid-way, to show the main thread answers meanwhile.
      post({ type: 'phase', phase: 'held' });
      Atomics.wait(job.hold, 0, 1);
    }
    post({ type: 'done', bytes, warnings, build_ms: Math.round(performance.now() - started) }, [bytes]);
  } catch (err) {
    const e = err instanceof AisocError ? err : undefined;
    post({
      type: 'error',
      code: e?.code ?? 'AISOC_ERR_INTERNAL',
      message: describeError(err),
      ...(e?.field ? { field: e.field } : {}),
      ...(e?.file ? { file: e.file } : {}),
    });
  }
});
