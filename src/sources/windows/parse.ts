import { contentId } from '../../ids.ts';
import type { OcsfSeverityId } from '../../schema/common.ts';
import type { EventDraft } from '../../schema/event.ts';
import { isObj } from '../fields.ts';
import { WinDraft } from './draft.ts';
import { readWinRecord } from './record.ts';
import { mapWindowsEvent, windowsEventInfo } from './security.ts';
import { isSysmon, mapSysmon, SYSMON_EVENTS } from './sysmon.ts';

/**
 * Windows level → OCSF severity_id: Critical High, Error Medium, Warning
 * Low, Information/Verbose/LogAlways Informational. A Windows "Critical" is
 * an operational state (a service crashed), not a security verdict, hence
 * one step down; detection rules raise what matters.
 */
function severityOf(level: number | undefined): OcsfSeverityId {
  if (level === 1) return 4;
  if (level === 2) return 3;
  if (level === 3) return 2;
  return 1;
}

/**
 * Normalise one Windows event (winlogbeat, OTRF/NXLog flat, or XML as JSON).
 * Sysmon ids and the main Security/System ids map to OCSF classes with
 * process, network, file, DNS and account fields; every event-data field is
 * also kept in `unmapped` under its original name (`Image`, `CommandLine`,
 * `TargetObject`, …), beside `EventID`, `Channel`, `Provider_Name` and
 * `Computer`, which is where Sigma rules look for them.
 *
 * @example
 * normaliseWindows({ EventID: 1, Channel: 'Microsoft-Windows-Sysmon/Operational', Hostname: 'ws1', RecordNumber: 7, '@timestamp': '2026-03-09T10:00:00Z', Image: 'C:\\Windows\\System32\\cmd.exe' })
 * // [{ class_uid: 1007, process: { path: 'C:\\Windows\\System32\\cmd.exe', name: 'cmd.exe' }, unmapped: { Image: …, EventID: 1, … }, … }]
 */
export function normaliseWindows(record: unknown): EventDraft[] {
  const rec = readWinRecord(record);
  const sysmon = isSysmon(rec.channel, rec.provider);
  const info = sysmon ? undefined : windowsEventInfo(rec.channel, rec.eventId);
  const known = sysmon ? SYSMON_EVENTS[rec.eventId] : info;
  const d = new WinDraft(rec, known?.class ?? 0);
  const draft = d.draft;
  draft.raw = record;
  if (known) draft.activity_name = known.name;
  // Without a record number (PowerShell 4104 in NXLog exports, hand-made events), the event's own
  // content is its id: what identifies it (System fields and event data, not the shipper's fields),
  // hashed before `unmapped` gains the copies below. Re-ingesting it then stores nothing twice, and
  // `aisoc detect` output names it. Two events alike in every field at the same instant are one.
  draft.source_event_id =
    rec.recordId ??
    contentId({
      channel: rec.channel,
      provider: rec.provider,
      computer: rec.computer,
      event_id: rec.eventId,
      time: rec.time,
      data: rec.data,
    });
  draft.metadata = {
    product: sysmon ? 'Sysmon' : (rec.provider ?? 'Windows'),
    vendor: 'Microsoft',
    event_code: String(rec.eventId),
  };
  if (rec.channel) draft.metadata.log_name = rec.channel;
  if (rec.computer) {
    draft.device = { hostname: rec.computer };
    d.observe('host', rec.computer, 'device.hostname');
  }

  if (sysmon) mapSysmon(d);
  else {
    if (info) mapWindowsEvent(d, info.key);
    // Without an account in the event data, the account the event was logged under is the actor.
    // Not for Sysmon, whose events are all logged by its service as SYSTEM.
    if (!draft.actor?.user && (rec.userSid || rec.userName)) {
      const user: NonNullable<NonNullable<EventDraft['actor']>['user']> = {};
      if (rec.userName) user.name = rec.userName;
      if (rec.userDomain) user.domain = rec.userDomain;
      if (rec.userSid) user.uid = rec.userSid;
      d.setActor('user', user);
      d.observe('user', rec.userName, 'actor.user.name');
    }
  }

  draft.status ??= rec.audit ?? 'unknown';
  const severity = severityOf(rec.level);
  draft.severity_id = draft.status === 'failure' && severity < 2 ? 2 : severity;
  draft.message =
    rec.message ?? `${known?.name ?? `Event ${rec.eventId}`}${rec.computer ? ` on ${rec.computer}` : ''}`;

  // Sigma's Windows field names: event data as is, plus the System fields rules select on.
  // rec.data is this record's own copy, so it becomes `unmapped` without another copy.
  const unmapped: Record<string, unknown> = rec.data;
  unmapped.EventID = rec.eventId;
  if (rec.channel) unmapped.Channel = rec.channel;
  if (rec.provider) unmapped.Provider_Name = rec.provider;
  if (rec.computer) unmapped.Computer = rec.computer;
  if (rec.userSid && unmapped.UserID === undefined) unmapped.UserID = rec.userSid;
  draft.unmapped = unmapped;
  return [d.finish()];
}

/**
 * How likely a record is a Windows event: winlogbeat's `winlog`, an
 * `Event.System`, or a flat record with `EventID` (more with `Channel` and a
 * host field).
 *
 * @example sniffWindows({ winlog: { event_id: 4624, channel: 'Security' } }) // 0.95
 */
export function sniffWindows(v: unknown): number {
  if (!isObj(v)) return 0;
  if (isObj(v.winlog) && ('event_id' in v.winlog || 'channel' in v.winlog)) return 0.95;
  // winlogbeat 6: the same fields at the top level (event_id, log_name, event_data).
  if ('event_id' in v && ('log_name' in v || 'event_data' in v)) return 'log_name' in v ? 0.9 : 0.6;
  const ev = isObj(v.Event) ? v.Event : v;
  if (isObj(ev.System) && 'EventID' in ev.System) return 0.95;
  if (!('EventID' in v)) return 0;
  let score = 0.4;
  if ('Channel' in v) score += 0.4;
  if ('Hostname' in v || 'Computer' in v || 'SourceName' in v) score += 0.1;
  if ('RecordNumber' in v || 'EventRecordID' in v) score += 0.05;
  return score;
}
