import { networkInterfaces } from 'node:os';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { unblockableSamples } from '../respond/actions/testing/addresses.ts';
import {
  BlockableIp,
  cidrContains,
  findCovering,
  hostCidr,
  IpAddress,
  ipClass,
  isExternalIp,
  isInternalIp,
  isRfc1918,
  parseCidr,
  parseIp,
  unblockableReason,
} from './ip.ts';

describe('IP parsing', () => {
  it('writes IPv6 in RFC 5952 form', () => {
    expect(parseIp('2001:0DB8:0000:0000:0000:0000:0000:0001')?.text).toBe('2001:db8::1');
    expect(parseIp('2001:db8:0:0:1:0:0:1')?.text).toBe('2001:db8::1:0:0:1');
    expect(parseIp('2001:db8:0:1:1:1:1:1')?.text).toBe('2001:db8:0:1:1:1:1:1');
    expect(parseIp('::')?.text).toBe('::');
    expect(parseIp('fe80:0:0:0:1:0:0:0')?.text).toBe('fe80::1:0:0:0');
    expect(parseIp('fe80:0:0:1:0:0:0:0')?.text).toBe('fe80:0:0:1::');
  });

  it('refuses what is not exactly one address', () => {
    for (const bad of [
      '203.0.113.07',
      '256.1.1.1',
      '1.2.3',
      '1.2.3.4/32',
      'fe80::1%eth0',
      '1::2::3',
      '12345::',
      ':::',
      '',
      ' 1.2.3.4',
    ])
      expect(parseIp(bad), bad).toBeUndefined();
  });

  it('round-trips every IPv4 and IPv6 address through its canonical text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), (s) => {
        const ip = parseIp(s);
        expect(ip).toBeDefined();
        expect(parseIp(ip!.text)?.value).toBe(ip!.value);
        expect(parseIp(ip!.text)?.text).toBe(ip!.text);
      }),
      { numRuns: 500 },
    );
  });

  it('parses CIDR blocks, refusing host bits unless reading data written by others', () => {
    expect(parseCidr('2001:DB8::/32')).toMatchObject({ text: '2001:db8::/32', prefix: 32 });
    expect(parseCidr('10.0.0.5/8')).toEqual({ error: 'has host bits set below the prefix' });
    expect(parseCidr('10.0.0.5/8', { lenient: true })).toMatchObject({ prefix: 8 });
    expect(parseCidr('10.0.0.0/33')).toEqual({ error: 'prefix must be 0–32' });
    expect(parseCidr('10.0.0.0')).toHaveProperty('error');
  });

  it('decides containment by prefix, across the whole address', () => {
    const net = parseCidr('192.0.2.0/24');
    if ('error' in net) throw new Error(net.error);
    expect(cidrContains(net, parseIp('192.0.2.255')!)).toBe(true);
    expect(cidrContains(net, parseIp('192.0.3.0')!)).toBe(false);
    // An IPv4-mapped address is the IPv4 address it carries.
    expect(cidrContains(net, parseIp('::ffff:c000:201')!)).toBe(true);
    expect(findCovering(['198.51.100.0/24', '2001:db8::/32'], parseIp('2001:db8:ffff::1')!)).toBe(
      '2001:db8::/32',
    );
    expect(findCovering(['203.0.113.7', '203.0.113.8/32'], parseIp('203.0.113.8')!)).toBe('203.0.113.8/32');
    expect(findCovering(['0.0.0.0/0'], parseIp('::1')!)).toBeUndefined();
    expect(hostCidr(parseIp('2001:db8::7')!)).toBe('2001:db8::7/128');
  });

  it('normalises input through the schema', () => {
    expect(IpAddress.parse(' 2001:DB8::7 ')).toBe('2001:db8::7');
    expect(IpAddress.safeParse('1.2.3.4; rm -rf /').success).toBe(false);
  });
});

describe('address classes', () => {
  it('reads an IPv4-mapped IPv6 address as the IPv4 address it carries, in every spelling', () => {
    for (const s of ['::ffff:127.0.0.1', '::FFFF:7f00:1', '0:0:0:0:0:ffff:7f00:1', '::ffff:7F00:0001'])
      expect(parseIp(s), s).toMatchObject({ version: 4, text: '127.0.0.1' });
    expect(IpAddress.parse('::ffff:203.0.113.7')).toBe('203.0.113.7');
    // Not mapped: IPv4-translated and NAT64 stay IPv6.
    expect(parseIp('64:ff9b::7f00:1')?.version).toBe(6);
  });

  it('classifies every range the decisions depend on', () => {
    const cases: Array<[string, string]> = [
      ['0.0.0.0', 'unspecified'],
      ['0.1.2.3', 'unspecified'],
      ['::', 'unspecified'],
      ['::ffff:0.0.0.0', 'unspecified'],
      ['127.0.0.1', 'loopback'],
      ['::1', 'loopback'],
      ['::ffff:127.0.0.1', 'loopback'],
      ['169.254.169.254', 'link-local'],
      ['fe80::1', 'link-local'],
      ['febf::1', 'link-local'],
      ['224.0.0.1', 'multicast'],
      ['239.255.255.250', 'multicast'],
      ['ff02::1', 'multicast'],
      ['255.255.255.255', 'reserved'],
      ['240.0.0.1', 'reserved'],
      ['::7f00:1', 'reserved'],
      ['10.1.2.3', 'private'],
      ['172.16.0.1', 'private'],
      ['172.31.255.255', 'private'],
      ['192.168.1.1', 'private'],
      ['fd12::1', 'private'],
      ['::ffff:10.0.0.1', 'private'],
      ['100.64.0.1', 'shared'],
      ['172.32.0.1', 'public'],
      ['203.0.113.45', 'public'],
      ['8.8.8.8', 'public'],
      ['2001:db8::1', 'public'],
      ['fec0::1', 'public'],
    ];
    for (const [s, cls] of cases) expect(ipClass(parseIp(s)!), s).toBe(cls);
  });

  it('decides internal and external after normalising, and calls text that is no address neither', () => {
    expect(isInternalIp('::ffff:127.0.0.1')).toBe(true);
    expect(isInternalIp('::ffff:10.1.2.3')).toBe(true);
    expect(isInternalIp('0.0.0.0')).toBe(true);
    expect(isInternalIp('203.0.113.45')).toBe(false);
    expect(isExternalIp('::ffff:203.0.113.45')).toBe(true);
    expect(isExternalIp('::ffff:7f00:1')).toBe(false);
    expect(isInternalIp('not-an-ip')).toBe(false);
    expect(isExternalIp('not-an-ip')).toBe(false);
    // The ML feature is RFC 1918 only, IPv4-mapped included.
    expect(isRfc1918('::ffff:192.168.1.1')).toBe(true);
    expect(isRfc1918('127.0.0.1')).toBe(false);
    expect(isRfc1918('100.64.0.1')).toBe(false);
    expect(isRfc1918('fd00::1')).toBe(false);
  });

  it('never lets a block touch unspecified, loopback, link-local, multicast, reserved or own addresses', () => {
    for (const s of unblockableSamples()) {
      const ip = parseIp(s);
      expect(ip, s).toBeDefined();
      expect(unblockableReason(ip!), s).toBeDefined();
      const r = BlockableIp.safeParse(s);
      expect(r.success, s).toBe(false);
    }
    const own = Object.values(networkInterfaces()).flatMap((l) => l ?? []);
    expect(own.length).toBeGreaterThan(0);
    for (const a of own)
      expect(unblockableReason(parseIp(a.address.split('%')[0]!)!), a.address).toBeDefined();
    // A configured own address (e.g. a public one behind NAT) is refused like an interface address.
    expect(unblockableReason(parseIp('198.51.100.1')!, [parseIp('198.51.100.1')!])).toBe(
      '198.51.100.1 is an address of this server',
    );
    for (const ok of ['203.0.113.45', '10.1.2.3', '::ffff:203.0.113.45', '2001:db8::7'])
      expect(BlockableIp.safeParse(ok).success, ok).toBe(true);
    expect(BlockableIp.parse('::ffff:203.0.113.45')).toBe('203.0.113.45');
  });

  it('compares never-block entries written as IPv4-mapped ranges with unmapped addresses', () => {
    expect(findCovering(['127.0.0.0/8'], parseIp('::ffff:127.0.0.1')!)).toBe('127.0.0.0/8');
    expect(findCovering(['::ffff:10.0.0.0/104'], parseIp('10.9.9.9')!)).toBe('::ffff:10.0.0.0/104');
    expect(findCovering(['::ffff:10.0.0.1'], parseIp('10.0.0.1')!)).toBe('::ffff:10.0.0.1');
    expect(findCovering(['::ffff:10.0.0.0/104'], parseIp('11.0.0.1')!)).toBeUndefined();
  });
});
