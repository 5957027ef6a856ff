import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cidrContains, findCovering, hostCidr, IpAddress, parseCidr, parseIp } from './ip.ts';

describe('IP parsing', () => {
  it('writes IPv6 in RFC 5952 form', () => {
    expect(parseIp('2001:0DB8:0000:0000:0000:0000:0000:0001')?.text).toBe('2001:db8::1');
    expect(parseIp('2001:db8:0:0:1:0:0:1')?.text).toBe('2001:db8::1:0:0:1');
    expect(parseIp('2001:db8:0:1:1:1:1:1')?.text).toBe('2001:db8:0:1:1:1:1:1');
    expect(parseIp('::')?.text).toBe('::');
    expect(parseIp('::ffff:192.0.2.1')?.text).toBe('::ffff:c000:201');
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
    expect(cidrContains(net, parseIp('::ffff:c000:201')!)).toBe(false);
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
