/** A training worker thread: receives the shared data, then runs tasks until closed. */
import { parentPort } from 'node:worker_threads';
import { runTask, type SharedData, type Task, type TaskResult } from './tasks.ts';

let shared: SharedData | undefined;

/** Result arrays are fresh ArrayBuffers (never shared), so they can be moved rather than copied. */
function transfers(r: TaskResult): ArrayBuffer[] {
  if ('tree' in r) return [r.tree.nodes.buffer as ArrayBuffer, r.tree.leafValues.buffer as ArrayBuffer];
  if ('edges' in r) return r.edges.map((e) => e.buffer as ArrayBuffer);
  return [];
}

parentPort?.on(
  'message',
  (msg: { type: 'init'; data: SharedData | undefined } | { type: 'task'; id: number; task: Task }) => {
    if (msg.type === 'init') {
      shared = msg.data;
      return;
    }
    try {
      const result = runTask(shared, msg.task);
      parentPort!.postMessage({ id: msg.id, result }, transfers(result));
    } catch (err) {
      parentPort!.postMessage({ id: msg.id, error: err instanceof Error ? err.message : String(err) });
    }
  },
);
