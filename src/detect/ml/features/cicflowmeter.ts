/**
 * `cicflowmeter`: the CICIDS2017 flow statistics as CICFlowMeter writes
 * them (the column names of the corrected CICIDS2017 release, Engelen et
 * al. 2021). Identifiers are left out on purpose — Flow ID, addresses,
 * source port and timestamp identify the capture, not the behaviour, and a
 * model that learns them scores the lab rather than the traffic.
 */
import type { EventDraft } from '../../../schema/event.ts';
import { CsvRow } from '../csv.ts';
import { type FeatureSet, numberCell } from './types.ts';

/** The columns used, in vector order. */
export const CIC_COLUMNS = [
  'Dst Port',
  'Protocol',
  'Flow Duration',
  'Total Fwd Packet',
  'Total Bwd packets',
  'Total Length of Fwd Packet',
  'Total Length of Bwd Packet',
  'Fwd Packet Length Max',
  'Fwd Packet Length Min',
  'Fwd Packet Length Mean',
  'Fwd Packet Length Std',
  'Bwd Packet Length Max',
  'Bwd Packet Length Min',
  'Bwd Packet Length Mean',
  'Bwd Packet Length Std',
  'Flow Bytes/s',
  'Flow Packets/s',
  'Flow IAT Mean',
  'Flow IAT Std',
  'Flow IAT Max',
  'Flow IAT Min',
  'Fwd IAT Total',
  'Fwd IAT Mean',
  'Fwd IAT Std',
  'Fwd IAT Max',
  'Fwd IAT Min',
  'Bwd IAT Total',
  'Bwd IAT Mean',
  'Bwd IAT Std',
  'Bwd IAT Max',
  'Bwd IAT Min',
  'Fwd PSH Flags',
  'Bwd PSH Flags',
  'Fwd URG Flags',
  'Bwd URG Flags',
  'Fwd RST Flags',
  'Bwd RST Flags',
  'Fwd Header Length',
  'Bwd Header Length',
  'Fwd Packets/s',
  'Bwd Packets/s',
  'Packet Length Min',
  'Packet Length Max',
  'Packet Length Mean',
  'Packet Length Std',
  'Packet Length Variance',
  'FIN Flag Count',
  'SYN Flag Count',
  'RST Flag Count',
  'PSH Flag Count',
  'ACK Flag Count',
  'URG Flag Count',
  'CWR Flag Count',
  'ECE Flag Count',
  'Down/Up Ratio',
  'Average Packet Size',
  'Fwd Segment Size Avg',
  'Bwd Segment Size Avg',
  'Fwd Bytes/Bulk Avg',
  'Fwd Packet/Bulk Avg',
  'Fwd Bulk Rate Avg',
  'Bwd Bytes/Bulk Avg',
  'Bwd Packet/Bulk Avg',
  'Bwd Bulk Rate Avg',
  'Subflow Fwd Packets',
  'Subflow Fwd Bytes',
  'Subflow Bwd Packets',
  'Subflow Bwd Bytes',
  'FWD Init Win Bytes',
  'Bwd Init Win Bytes',
  'Fwd Act Data Pkts',
  'Fwd Seg Size Min',
  'Active Mean',
  'Active Std',
  'Active Max',
  'Active Min',
  'Idle Mean',
  'Idle Std',
  'Idle Max',
  'Idle Min',
  'ICMP Code',
  'ICMP Type',
  'Total TCP Flow Time',
] as const;

/**
 * Other spellings of the same columns: the original CICIDS2017 CSVs and
 * the Python CICFlowMeter. Keys and values are compared after removing
 * everything but letters and digits, lower-cased.
 */
const ALIASES: Record<string, string[]> = {
  'Dst Port': ['Destination Port'],
  'Src Port': ['Source Port', 'Src Port'],
  'Total Fwd Packet': ['Total Fwd Packets', 'Tot Fwd Pkts'],
  'Total Bwd packets': ['Total Backward Packets', 'Tot Bwd Pkts'],
  'Total Length of Fwd Packet': ['Total Length of Fwd Packets', 'TotLen Fwd Pkts'],
  'Total Length of Bwd Packet': ['Total Length of Bwd Packets', 'TotLen Bwd Pkts'],
  'Packet Length Min': ['Min Packet Length', 'Pkt Len Min'],
  'Packet Length Max': ['Max Packet Length', 'Pkt Len Max'],
  'CWR Flag Count': ['CWE Flag Count'],
  'Fwd Segment Size Avg': ['Avg Fwd Segment Size', 'Fwd Seg Size Avg'],
  'Bwd Segment Size Avg': ['Avg Bwd Segment Size', 'Bwd Seg Size Avg'],
  'Fwd Bytes/Bulk Avg': ['Fwd Avg Bytes/Bulk', 'Fwd Byts/b Avg'],
  'Fwd Packet/Bulk Avg': ['Fwd Avg Packets/Bulk', 'Fwd Pkts/b Avg'],
  'Fwd Bulk Rate Avg': ['Fwd Avg Bulk Rate', 'Fwd Blk Rate Avg'],
  'Bwd Bytes/Bulk Avg': ['Bwd Avg Bytes/Bulk', 'Bwd Byts/b Avg'],
  'Bwd Packet/Bulk Avg': ['Bwd Avg Packets/Bulk', 'Bwd Pkts/b Avg'],
  'Bwd Bulk Rate Avg': ['Bwd Avg Bulk Rate', 'Bwd Blk Rate Avg'],
  'FWD Init Win Bytes': ['Init_Win_bytes_forward', 'Init Fwd Win Byts'],
  'Bwd Init Win Bytes': ['Init_Win_bytes_backward', 'Init Bwd Win Byts'],
  'Fwd Act Data Pkts': ['act_data_pkt_fwd'],
  'Fwd Seg Size Min': ['min_seg_size_forward'],
  'Flow Bytes/s': ['Flow Byts/s'],
  'Flow Packets/s': ['Flow Pkts/s'],
  'Fwd Packets/s': ['Fwd Pkts/s'],
  'Bwd Packets/s': ['Bwd Pkts/s'],
};

export function normaliseColumnName(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]/g, '');
}

/** Canonical column for every normalised spelling. */
const CANONICAL = new Map<string, string>();
for (const c of CIC_COLUMNS) CANONICAL.set(normaliseColumnName(c), c);
for (const [c, alts] of Object.entries(ALIASES))
  for (const a of alts) CANONICAL.set(normaliseColumnName(a), c);

/** Re-key a header so that any known spelling of a column answers to its canonical name. */
export function canonicalHeader(header: ReadonlyMap<string, number>): Map<string, number> {
  const out = new Map(header);
  for (const [name, i] of header) {
    const canon = CANONICAL.get(normaliseColumnName(name));
    if (canon && !out.has(canon)) out.set(canon, i);
  }
  return out;
}

/**
 * CICFlowMeter writes `Infinity` or `NaN` for rates of zero-duration flows.
 * They become -1: rates are never negative, so a tree can tell "undefined"
 * apart from every real rate, and training and serving agree on it.
 */
export const UNDEFINED_RATE = -1;

function finite(v: number): number {
  return Number.isFinite(v) ? v : UNDEFINED_RATE;
}

/** A CSV-row view over a JSON object holding CICFlowMeter columns (a flow exported as JSON). */
function rowOfObject(o: Record<string, unknown>): CsvRow | undefined {
  const keys = Object.keys(o);
  const index = canonicalHeader(new Map(keys.map((k, i) => [k.trim(), i])));
  if (!CIC_COLUMNS.every((c) => index.has(c))) return undefined;
  return new CsvRow(
    index,
    keys.map((k) => String(o[k] ?? '')),
    0,
  );
}

export const cicflowmeter: FeatureSet = {
  name: 'cicflowmeter',
  version: 1,
  description: 'CICIDS2017 flow statistics as CICFlowMeter writes them (83 columns, identifiers excluded)',
  columns: CIC_COLUMNS,
  input: 'csv',
  negativeLabel: 'BENIGN',
  requiredColumns(header) {
    const h = canonicalHeader(header);
    return CIC_COLUMNS.filter((c) => !h.has(c));
  },
  fromRow(row) {
    const out = new Array<number>(CIC_COLUMNS.length);
    for (let i = 0; i < CIC_COLUMNS.length; i++) out[i] = finite(numberCell(row, CIC_COLUMNS[i]!));
    return out;
  },
  fromEvent(event: EventDraft) {
    // Only flows that carry CICFlowMeter's statistics (a CICFlowMeter export ingested as JSON) have them.
    const raw = event.raw;
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
    const row = rowOfObject(raw as Record<string, unknown>);
    if (!row) return undefined;
    try {
      return cicflowmeter.fromRow(row);
    } catch {
      return undefined;
    }
  },
};
