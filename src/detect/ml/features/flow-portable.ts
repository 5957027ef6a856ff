/**
 * `flow-portable`: the flow features that CICFlowMeter, Zeek conn.log and
 * Suricata flow events all carry, so a model trained on CICIDS2017 can score
 * live Zeek and Suricata flows. Everything else (inter-arrival times, packet
 * length statistics, bulk rates, window sizes) exists only in CICFlowMeter
 * and is left out; docs/ml.md has the column-by-column mapping and reports
 * what leaving it out costs in macro-F1.
 */
import type { EventDraft } from '../../../schema/event.ts';
import { UNDEFINED_RATE } from './cicflowmeter.ts';
import { FeatureError, type FeatureSet, numberCell } from './types.ts';

export const PORTABLE_COLUMNS = [
  'duration_s',
  'fwd_packets',
  'bwd_packets',
  'fwd_payload_bytes',
  'bwd_payload_bytes',
  'dst_port',
  'src_port_class',
  'protocol',
  'fwd_bytes_per_packet',
  'bwd_bytes_per_packet',
  'bytes_per_second',
  'packets_per_second',
  'syn_seen',
  'fin_seen',
  'rst_seen',
  'psh_seen',
  'ack_seen',
  'urg_seen',
] as const;

/** The fields every source gives, before derived columns. */
export interface PortableFlow {
  durationS: number;
  fwdPackets: number;
  bwdPackets: number;
  fwdBytes: number;
  bwdBytes: number;
  dstPort: number;
  srcPort: number;
  protocol: number;
  /** TCP flags seen in either direction; all false for UDP and ICMP. */
  flags: { syn: boolean; fin: boolean; rst: boolean; psh: boolean; ack: boolean; urg: boolean };
}

/**
 * The source port's class rather than its value: 0 well-known (< 1024),
 * 1 registered (< 49152), 2 dynamic. Exact ephemeral ports identify the
 * tool and the capture, which a model would learn instead of the behaviour.
 */
export function portClass(port: number): number {
  if (port < 1024) return 0;
  if (port < 49152) return 1;
  return 2;
}

/** The vector of a flow: the same derivations whatever the source. */
export function portableVector(f: PortableFlow): number[] {
  const packets = f.fwdPackets + f.bwdPackets;
  const bytes = f.fwdBytes + f.bwdBytes;
  return [
    f.durationS,
    f.fwdPackets,
    f.bwdPackets,
    f.fwdBytes,
    f.bwdBytes,
    f.dstPort,
    portClass(f.srcPort),
    f.protocol,
    f.fwdPackets > 0 ? f.fwdBytes / f.fwdPackets : 0,
    f.bwdPackets > 0 ? f.bwdBytes / f.bwdPackets : 0,
    f.durationS > 0 ? bytes / f.durationS : UNDEFINED_RATE,
    f.durationS > 0 ? packets / f.durationS : UNDEFINED_RATE,
    f.flags.syn ? 1 : 0,
    f.flags.fin ? 1 : 0,
    f.flags.rst ? 1 : 0,
    f.flags.psh ? 1 : 0,
    f.flags.ack ? 1 : 0,
    f.flags.urg ? 1 : 0,
  ];
}

const PROTOCOLS: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, ipv6_icmp: 58, icmpv6: 58, sctp: 132 };

/** IANA protocol number from a name or number ("tcp", "TCP", "6"); -1 when unknown. */
export function protocolNumber(p: unknown): number {
  if (typeof p === 'number' && Number.isInteger(p)) return p;
  if (typeof p !== 'string') return -1;
  const s = p.trim().toLowerCase().replace('-', '_');
  if (/^\d+$/.test(s)) return Number(s);
  return PROTOCOLS[s] ?? -1;
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function num(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

const NO_FLAGS = { syn: false, fin: false, rst: false, psh: false, ack: false, urg: false };

/**
 * Zeek's `history`: upper case for the originator, lower case for the
 * responder. S syn, H syn-ack, A pure ack, D payload, F fin, R rst. Zeek
 * records no PSH or URG: a payload packet (D) stands for PSH, URG is never set;
 * ACK counts as seen with a syn-ack or a pure ack.
 */
export function flagsOfZeekHistory(h: string): PortableFlow['flags'] {
  const has = (re: RegExp) => re.test(h);
  return {
    syn: has(/[SsHh]/),
    fin: has(/[Ff]/),
    rst: has(/[Rr]/),
    psh: has(/[Dd]/),
    ack: has(/[AaHh]/),
    urg: false,
  };
}

/** Suricata's `tcp_flags`: the hex OR of every flag seen (FIN 01, SYN 02, RST 04, PSH 08, ACK 10, URG 20). */
export function flagsOfSuricata(tcp: Record<string, unknown>): PortableFlow['flags'] {
  const hex = typeof tcp.tcp_flags === 'string' ? Number.parseInt(tcp.tcp_flags, 16) : Number.NaN;
  if (Number.isFinite(hex))
    return {
      fin: (hex & 0x01) !== 0,
      syn: (hex & 0x02) !== 0,
      rst: (hex & 0x04) !== 0,
      psh: (hex & 0x08) !== 0,
      ack: (hex & 0x10) !== 0,
      urg: (hex & 0x20) !== 0,
    };
  return {
    syn: tcp.syn === true,
    fin: tcp.fin === true,
    rst: tcp.rst === true,
    psh: tcp.psh === true,
    ack: tcp.ack === true,
    urg: tcp.urg === true,
  };
}

/**
 * Suricata counts whole packets (link, IP and transport headers included);
 * CICFlowMeter and Zeek count payload. An Ethernet + IPv4 + transport header
 * estimate per packet is subtracted so the byte columns mean the same thing
 * (TCP with timestamps: 66 bytes; UDP: 42; other: 34).
 */
export function suricataPayloadEstimate(bytes: number, packets: number, protocol: number): number {
  const perPacket = protocol === 6 ? 66 : protocol === 17 ? 42 : 34;
  return Math.max(0, bytes - packets * perPacket);
}

/** The portable fields of a normalised flow event (Zeek conn, Suricata flow, or any source filling `network`). */
export function portableOfEvent(e: EventDraft): PortableFlow | undefined {
  const n = e.network;
  const raw = obj(e.raw) ?? {};
  // Suricata reports flow counters on alerts, http, dns… too, but only its `flow` events hold a whole flow.
  if (typeof raw.event_type === 'string' && raw.event_type !== 'flow') return undefined;
  const zeek = raw.orig_pkts !== undefined || raw.orig_bytes !== undefined || typeof raw.history === 'string';
  const suriFlow = obj(raw.flow);
  const fwdPackets = num(n?.packets_out) ?? num(raw.orig_pkts) ?? num(suriFlow?.pkts_toserver);
  const bwdPackets = num(n?.packets_in) ?? num(raw.resp_pkts) ?? num(suriFlow?.pkts_toclient);
  if (fwdPackets === undefined && bwdPackets === undefined) return undefined;
  const protocol = protocolNumber(n?.protocol ?? raw.proto);
  let durationS =
    n?.duration_ms !== undefined ? n.duration_ms / 1000 : (num(raw.duration) ?? num(suriFlow?.age) ?? 0);
  if (!Number.isFinite(durationS) || durationS < 0) durationS = 0;
  let fwdBytes: number;
  let bwdBytes: number;
  if (zeek) {
    // Zeek's orig_bytes/resp_bytes are payload bytes, as CICFlowMeter counts them.
    fwdBytes = num(raw.orig_bytes) ?? n?.bytes_out ?? 0;
    bwdBytes = num(raw.resp_bytes) ?? n?.bytes_in ?? 0;
  } else if (suriFlow) {
    fwdBytes = suricataPayloadEstimate(
      num(suriFlow.bytes_toserver) ?? n?.bytes_out ?? 0,
      fwdPackets ?? 0,
      protocol,
    );
    bwdBytes = suricataPayloadEstimate(
      num(suriFlow.bytes_toclient) ?? n?.bytes_in ?? 0,
      bwdPackets ?? 0,
      protocol,
    );
  } else {
    fwdBytes = n?.bytes_out ?? 0;
    bwdBytes = n?.bytes_in ?? 0;
  }
  let flags = NO_FLAGS;
  if (protocol === 6) {
    if (typeof raw.history === 'string') flags = flagsOfZeekHistory(raw.history);
    else if (obj(raw.tcp)) flags = flagsOfSuricata(obj(raw.tcp)!);
  }
  return {
    durationS,
    fwdPackets: fwdPackets ?? 0,
    bwdPackets: bwdPackets ?? 0,
    fwdBytes,
    bwdBytes,
    dstPort: e.dst_endpoint?.port ?? num(raw.dest_port) ?? num(raw['id.resp_p']) ?? 0,
    srcPort: e.src_endpoint?.port ?? num(raw.src_port) ?? num(raw['id.orig_p']) ?? 0,
    protocol,
    flags,
  };
}

function count(row: Parameters<FeatureSet['fromRow']>[0], column: string): number {
  const v = numberCell(row, column);
  if (!Number.isFinite(v) || v < 0) throw new FeatureError(column, `${v} is not a count`);
  return v;
}

export const flowPortable: FeatureSet = {
  name: 'flow-portable',
  version: 1,
  description:
    'Flow features common to CICFlowMeter, Zeek conn.log and Suricata flow: duration, packets and payload bytes each way, ports, protocol, TCP flags',
  columns: PORTABLE_COLUMNS,
  input: 'csv',
  negativeLabel: 'BENIGN',
  requiredColumns(header) {
    return CIC_INPUTS.filter((c) => !header.has(c));
  },
  fromRow(row) {
    const protocol = count(row, 'Protocol');
    const tcp = protocol === 6;
    const any = (...cols: string[]) => tcp && cols.some((c) => count(row, c) > 0);
    return portableVector({
      durationS: count(row, 'Flow Duration') / 1e6,
      fwdPackets: count(row, 'Total Fwd Packet'),
      bwdPackets: count(row, 'Total Bwd packets'),
      fwdBytes: count(row, 'Total Length of Fwd Packet'),
      bwdBytes: count(row, 'Total Length of Bwd Packet'),
      dstPort: count(row, 'Dst Port'),
      srcPort: count(row, 'Src Port'),
      protocol,
      flags: {
        syn: any('SYN Flag Count'),
        fin: any('FIN Flag Count'),
        rst: any('RST Flag Count'),
        psh: any('PSH Flag Count'),
        ack: any('ACK Flag Count'),
        urg: any('URG Flag Count'),
      },
    });
  },
  fromEvent(event) {
    const f = portableOfEvent(event);
    return f ? portableVector(f) : undefined;
  },
};

/** The CICFlowMeter columns flow-portable reads. */
const CIC_INPUTS = [
  'Flow Duration',
  'Total Fwd Packet',
  'Total Bwd packets',
  'Total Length of Fwd Packet',
  'Total Length of Bwd Packet',
  'Dst Port',
  'Src Port',
  'Protocol',
  'SYN Flag Count',
  'FIN Flag Count',
  'RST Flag Count',
  'PSH Flag Count',
  'ACK Flag Count',
  'URG Flag Count',
];
