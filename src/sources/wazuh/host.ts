import type { Obj } from '../fields.ts';
import { baseName, present, prune, pruneOrUndefined } from '../guardduty/draft.ts';
import type { Pieces, Reader } from './reader.ts';

/**
 * File integrity monitoring (`syscheck.*`): the file after the change, with
 * its hashes, and who changed it when who-data auditing is on.
 */
export function syscheckPieces(sc: Obj, rd: Reader): Pieces {
  const f = 'syscheck';
  const path = rd.str(sc, 'path', `${f}.path`);
  const who = rd.obj(sc, 'audit', `${f}.audit`);
  const whoUser = rd.obj(who, 'user', `${f}.audit.user`);
  const whoProcess = rd.obj(who, 'process', `${f}.audit.process`);
  const procName = rd.str(whoProcess, 'name', `${f}.audit.process.name`);
  const hashes: Record<string, string> = {};
  for (const alg of ['md5', 'sha1', 'sha256']) {
    const digest = rd.str(sc, `${alg}_after`, `${f}.${alg}_after`);
    if (present(digest)) hashes[alg] = digest;
  }
  const event = rd.str(sc, 'event', `${f}.event`);
  return {
    activity: event,
    file: present(path)
      ? prune({
          path,
          name: baseName(path),
          size: rd.num(sc, 'size_after', `${f}.size_after`),
          hashes: Object.keys(hashes).length ? hashes : undefined,
        })
      : undefined,
    user: pruneOrUndefined({
      name: rd.str(whoUser, 'name', `${f}.audit.user.name`) ?? rd.str(sc, 'uname_after', `${f}.uname_after`),
      uid: rd.str(whoUser, 'id', `${f}.audit.user.id`) ?? rd.str(sc, 'uid_after', `${f}.uid_after`),
    }),
    process: pruneOrUndefined({
      name: present(procName) ? baseName(procName) : undefined,
      path: procName?.includes('/') ? procName : undefined,
      pid: rd.int(whoProcess, 'id', `${f}.audit.process.id`),
      parent: pruneOrUndefined({ pid: rd.int(whoProcess, 'ppid', `${f}.audit.process.ppid`) }),
    }),
    status: 'success',
    unmapped: pruneOrUndefined({
      fim: pruneOrUndefined({
        event,
        mode: rd.str(sc, 'mode', `${f}.mode`),
        changed_attributes: rd.strs(sc, 'changed_attributes', `${f}.changed_attributes`),
        md5_before: rd.str(sc, 'md5_before', `${f}.md5_before`),
        sha256_before: rd.str(sc, 'sha256_before', `${f}.sha256_before`),
        size_before: rd.num(sc, 'size_before', `${f}.size_before`),
        perm_after: rd.str(sc, 'perm_after', `${f}.perm_after`),
        diff: rd.str(sc, 'diff', `${f}.diff`),
      }),
    }),
  };
}

/**
 * Linux audit (`data.audit.*`, decoded by Wazuh's auditd decoder): the
 * program run, its arguments (`execve.a0…`), the login user id and outcome.
 */
export function auditPieces(audit: Obj, rd: Reader): Pieces {
  const f = 'data.audit';
  const exe = rd.str(audit, 'exe', `${f}.exe`);
  const execve = rd.obj(audit, 'execve', `${f}.execve`);
  const args: string[] = [];
  for (let i = 0; execve && i < 64; i++) {
    const a = rd.str(execve, `a${i}`, `${f}.execve.a${i}`);
    if (a === undefined) break;
    args.push(a);
  }
  const file = rd.obj(audit, 'file', `${f}.file`);
  const filePath = rd.str(file, 'name', `${f}.file.name`);
  const success = rd.str(audit, 'success', `${f}.success`) ?? rd.str(audit, 'res', `${f}.res`);
  const auid = rd.str(audit, 'auid', `${f}.auid`);
  return {
    process: pruneOrUndefined({
      path: exe,
      name: rd.str(audit, 'command', `${f}.command`) ?? (exe ? baseName(exe) : undefined),
      pid: rd.int(audit, 'pid', `${f}.pid`),
      cmd_line: args.length ? args.join(' ') : undefined,
      parent: pruneOrUndefined({ pid: rd.int(audit, 'ppid', `${f}.ppid`) }),
    }),
    file: present(filePath) ? { path: filePath, name: baseName(filePath) } : undefined,
    user: pruneOrUndefined({
      name: rd.str(audit, 'acct', `${f}.acct`),
      // 4294967295 is auditd's "unset" login uid (a daemon, not a person).
      uid: auid === '4294967295' ? undefined : (auid ?? rd.str(audit, 'uid', `${f}.uid`)),
    }),
    status:
      success === 'yes' || success === 'success'
        ? 'success'
        : success === 'no' || success === 'failed'
          ? 'failure'
          : undefined,
    unmapped: pruneOrUndefined({
      audit: pruneOrUndefined({
        type: rd.str(audit, 'type', `${f}.type`),
        key: rd.str(audit, 'key', `${f}.key`),
        cwd: rd.str(audit, 'cwd', `${f}.cwd`),
        uid: rd.str(audit, 'uid', `${f}.uid`),
        euid: rd.str(audit, 'euid', `${f}.euid`),
      }),
    }),
  };
}
