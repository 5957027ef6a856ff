import { z } from 'zod';
import type { SourceFactory } from '../types.ts';
import { frameWindows } from './framing.ts';
import { normaliseWindows, sniffWindows } from './parse.ts';

/**
 * Windows event logs and Sysmon, as winlogbeat, OTRF/Mordor (NXLog) and
 * evtx-to-JSON tools export them. Sysmon and the main Security/System ids map
 * to OCSF classes; every event-data field stays in `unmapped` under its
 * Windows name for Sigma.
 */
export const windows: SourceFactory<Record<string, never>> = {
  type: 'windows',
  description: 'Windows event logs and Sysmon (winlogbeat, OTRF/NXLog JSON, evtx as JSON)',
  configSchema: z.strictObject({}).describe('Windows events: no settings'),
  create: () => ({ type: 'windows', framing: frameWindows, normalise: normaliseWindows }),
  sniff: sniffWindows,
};
