/**
 * Flow counters of EVE records into the `network` object that flow-based
 * features read: bytes and packets each way, duration, state. `bytes_out`
 * always means "from the event's source to its destination", so counters
 * kept per flow side (to-server, to-client) are turned around when the
 * record's source is the flow's server.
 */
import type { Network } from '../../schema/event.ts';
import { numOf, type Obj, ParseError, strOf } from '../fields.ts';
import { durationMs, parseSensorTime, type SensorTime } from './network.ts';

function count(v: unknown, field: string): number | undefined {
  const n = numOf(v, field);
  if (n !== undefined && n < 0) throw new ParseError(`${field} must not be negative, got ${n}`, field);
  return n;
}

/**
 * Whether the record's source is the flow's client. Suricata 7 says so in
 * `direction` (`to_server`/`to_client`) and `flow.src_ip`; older versions
 * write the packet's addresses without saying, and a packet from the
 * server is then indistinguishable: the source is taken to be the client,
 * as it is for flow records and nearly all application-layer records.
 *
 * @example sourceIsClient({ direction: 'to_client' }, undefined) // false
 */
export function sourceIsClient(r: Obj, flow: Obj | undefined, srcIp?: string, srcPort?: number): boolean {
  const d = r.direction;
  if (d === 'to_client') return false;
  if (d === 'to_server') return true;
  if (flow && typeof flow.src_ip === 'string' && srcIp !== undefined) {
    if (flow.src_ip !== srcIp) return false;
    return typeof flow.src_port !== 'number' || srcPort === undefined || flow.src_port === srcPort;
  }
  return true;
}

/** Appends `key=value` (or the bare value when key is empty) to the `network.state` text being built. */
function statePart(out: string, key: string, value: string | undefined): string {
  if (value === undefined || value === '') return out;
  const part = key ? `${key}=${value}` : value;
  return out ? `${out} ${part}` : part;
}

/**
 * Counters of an EVE `flow` object (in `flow` and `alert` records). For an
 * alert the flow is still open: its counters and duration are those at
 * the alert's time.
 */
export function applyFlow(
  network: Network,
  flow: Obj,
  fromClient: boolean,
  eventTime: SensorTime,
  tcp: Obj | undefined,
): void {
  // Fields read by name, states built without arrays: this runs for nearly every EVE record.
  const pts = count(flow.pkts_toserver, 'flow.pkts_toserver');
  const ptc = count(flow.pkts_toclient, 'flow.pkts_toclient');
  const bts = count(flow.bytes_toserver, 'flow.bytes_toserver');
  const btc = count(flow.bytes_toclient, 'flow.bytes_toclient');
  const pOut = fromClient ? pts : ptc;
  const pIn = fromClient ? ptc : pts;
  const bOut = fromClient ? bts : btc;
  const bIn = fromClient ? btc : bts;
  if (pOut !== undefined) network.packets_out = pOut;
  if (pIn !== undefined) network.packets_in = pIn;
  if (bOut !== undefined) network.bytes_out = bOut;
  if (bIn !== undefined) network.bytes_in = bIn;
  const startText = flow.start;
  if (startText !== undefined && startText !== null) {
    const start = parseSensorTime(startText, 'flow.start');
    const endText = flow.end;
    const end = endText !== undefined && endText !== null ? parseSensorTime(endText, 'flow.end') : eventTime;
    const d = durationMs(start, end);
    if (d !== undefined) network.duration_ms = d;
  }
  // Every part is read (and checked) before the text is built, as before.
  const flowState = strOf(flow.state, 'flow.state');
  const reason = strOf(flow.reason, 'flow.reason');
  const tcpState = tcp ? strOf(tcp.state, 'tcp.state') : undefined;
  const flags = tcp ? strOf(tcp.tcp_flags, 'tcp.tcp_flags') : undefined;
  const state = statePart(
    statePart(statePart(statePart('', '', flowState), 'reason', reason), 'tcp', tcpState),
    'flags',
    flags,
  );
  if (state) network.state = state;
}

/**
 * Counters of an EVE `netflow` record. Netflow records are one-way: each
 * side of a flow is its own record, written from that side's sender, so
 * the counters are always outgoing from the record's source.
 */
export function applyNetflow(network: Network, nf: Obj, tcp: Obj | undefined): void {
  const pkts = count(nf.pkts, 'netflow.pkts');
  const bytes = count(nf.bytes, 'netflow.bytes');
  if (pkts !== undefined) network.packets_out = pkts;
  if (bytes !== undefined) network.bytes_out = bytes;
  if (nf.start !== undefined && nf.start !== null && nf.end !== undefined && nf.end !== null) {
    const d = durationMs(parseSensorTime(nf.start, 'netflow.start'), parseSensorTime(nf.end, 'netflow.end'));
    if (d !== undefined) network.duration_ms = d;
  }
  const tcpState = tcp ? strOf(tcp.state, 'tcp.state') : undefined;
  const flags = tcp ? strOf(tcp.tcp_flags, 'tcp.tcp_flags') : undefined;
  const state = statePart(statePart('', 'tcp', tcpState), 'flags', flags);
  if (state) network.state = state;
}
