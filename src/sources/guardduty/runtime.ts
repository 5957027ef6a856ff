import type { EventDraft } from '../../schema/event.ts';
import { type Obj, optInt, optObj, optStr } from '../fields.ts';
import { type Built, objects, sub } from './context.ts';
import { baseName, present, prune, pruneOrUndefined } from './draft.ts';

export interface RuntimeOut {
  process?: EventDraft['process'];
  file?: EventDraft['file'];
}

/** Runtime Monitoring findings: the process that acted and the file it touched. */
export function runtimeOf(service: Obj, p: string, b: Built): RuntimeOut {
  const rt = optObj(service, 'runtimeDetails', `${p}.runtimeDetails`);
  if (!rt) return {};
  const f = `${p}.runtimeDetails`;
  const proc = optObj(rt, 'process', `${f}.process`);
  const ctx = optObj(rt, 'context', `${f}.context`);
  const out: RuntimeOut = {};
  if (proc) {
    const lineage = objects(proc, 'lineage', `${f}.process.lineage`);
    const parent = lineage[0];
    const sha256 = optStr(proc, 'executableSha256', `${f}.process.executableSha256`);
    out.process = pruneOrUndefined({
      name: optStr(proc, 'name', `${f}.process.name`),
      path: optStr(proc, 'executablePath', `${f}.process.executablePath`),
      pid: optInt(proc, 'pid', `${f}.process.pid`),
      uid: optStr(proc, 'uuid', `${f}.process.uuid`),
      user: optStr(proc, 'user', `${f}.process.user`),
      cmd_line: ctx ? optStr(ctx, 'commandLineExample', `${f}.context.commandLineExample`) : undefined,
      hashes: sha256 ? { sha256 } : undefined,
      parent: pruneOrUndefined({
        uid: optStr(proc, 'parentUuid', `${f}.process.parentUuid`),
        name: parent
          ? (optStr(parent, 'name', `${f}.process.lineage[0].name`) ??
            optStr(parent, 'ancestorName', `${f}.process.lineage[0].ancestorName`))
          : undefined,
        pid: parent
          ? (optInt(parent, 'pid', `${f}.process.lineage[0].pid`) ??
            optInt(parent, 'ancestorPid', `${f}.process.lineage[0].ancestorPid`))
          : undefined,
      }),
    });
    b.obs.add('process', out.process?.path ?? out.process?.name, 'process.path');
    b.obs.add('hash', sha256, 'process.hashes.sha256');
  }
  if (ctx) {
    const path =
      optStr(ctx, 'threatFilePath', `${f}.context.threatFilePath`) ??
      optStr(ctx, 'scriptPath', `${f}.context.scriptPath`) ??
      optStr(ctx, 'moduleFilePath', `${f}.context.moduleFilePath`);
    if (present(path)) {
      out.file = { path, name: baseName(path) };
      b.obs.add('file', path, 'file.path');
    }
    b.unmapped.runtime_context = ctx;
  }
  return out;
}

/** Malware Protection findings: infected files, with their hashes; returns the first as the event's file. */
export function malwareOf(service: Obj, p: string, b: Built): EventDraft['file'] {
  const scan = optObj(service, 'ebsVolumeScanDetails', `${p}.ebsVolumeScanDetails`);
  const detections = sub(scan, 'scanDetections', `${p}.ebsVolumeScanDetails.scanDetections`);
  const byName = sub(
    detections,
    'threatDetectedByName',
    `${p}.ebsVolumeScanDetails.scanDetections.threatDetectedByName`,
  );
  const f = `${p}.ebsVolumeScanDetails.scanDetections.threatDetectedByName.threatNames`;
  const files: Array<{ path?: string; hash?: string; threat?: string }> = [];
  objects(byName, 'threatNames', f).forEach((t, i) => {
    const threat = optStr(t, 'name', `${f}[${i}].name`);
    objects(t, 'filePaths', `${f}[${i}].filePaths`).forEach((fp, j) => {
      const path = optStr(fp, 'filePath', `${f}[${i}].filePaths[${j}].filePath`);
      const hash = optStr(fp, 'hash', `${f}[${i}].filePaths[${j}].hash`);
      b.obs.add('file', path, 'unmapped.malware.path');
      b.obs.add('hash', hash, 'unmapped.malware.hash');
      files.push(prune({ path, hash, threat }));
    });
  });
  if (files.length === 0) return undefined;
  b.unmapped.malware = files;
  const first = files[0]!;
  if (!first.path) return undefined;
  return prune({
    path: first.path,
    name: baseName(first.path),
    hashes: first.hash ? { sha256: first.hash } : undefined,
  });
}
