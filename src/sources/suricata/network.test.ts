import { describe, expect, it } from 'vitest';
import {
  contentKey,
  DEFAULT_HOME_NET,
  HomeNet,
  isIp,
  isoMicros,
  Observables,
  parseSensorTime,
} from './network.ts';

describe('sensor timestamps', () => {
  it('reads Suricata offsets with and without a colon, and zone-less times as UTC', () => {
    expect(parseSensorTime('2015-03-29T11:01:38.221126-0600', 't').iso).toBe('2015-03-29T17:01:38.221126Z');
    expect(parseSensorTime('2016-02-29T23:59:59.999999+05:30', 't').iso).toBe('2016-02-29T18:29:59.999999Z');
    expect(parseSensorTime('2019-01-02T03:50:11.315110', 't').iso).toBe('2019-01-02T03:50:11.315110Z');
    expect(parseSensorTime('2024-05-01 10:00:00', 't').iso).toBe('2024-05-01T10:00:00.000000Z');
    expect(parseSensorTime('2024-05-01T10:00:00.123456789Z', 't').iso).toBe('2024-05-01T10:00:00.123456Z');
  });

  it('reads epoch seconds with a fraction, as numbers or text, keeping microseconds', () => {
    expect(parseSensorTime(1521911720.600725, 'ts')).toEqual({
      iso: '2018-03-24T17:15:20.600725Z',
      us: 1521911720600725,
    });
    expect(parseSensorTime('1521911720.600725', 'ts').iso).toBe('2018-03-24T17:15:20.600725Z');
  });

  it('refuses impossible dates and zones, naming the field', () => {
    for (const bad of [
      '2015-02-29T11:01:38.221126-0600',
      '2015-13-01T00:00:00.000000Z',
      '2015-01-01T24:00:00.000000Z',
      '2015-01-01T00:00:00.000000+2500',
      'yesterday',
      '',
      null,
      {},
      Number.NaN,
      -5,
    ])
      expect(() => parseSensorTime(bad, 'timestamp'), String(bad)).toThrow(/timestamp/);
  });

  it('gives the same answers when consecutive times share an hour or a minute, whatever the zone', () => {
    const times = [
      '2024-03-12T09:14:07.512904+0100',
      '2024-03-12T09:59:59.999999+0100',
      '2024-03-12T09:14:07.512904-0100',
      '2024-03-12T09:14:07.512904+0100',
      '2024-03-12T09:14:07.512904Z',
      '2024-03-12 09:14:07.512904Z',
      '2024-03-12T10:00:00.000000+0100',
    ];
    for (const t of [...times, ...times.reverse()]) {
      const ms = Date.parse(
        t
          .replace(' ', 'T')
          .replace(/(\d{3})\d{3}/, '$1')
          .replace(/([+-]\d{2})(\d{2})$/, '$1:$2'),
      );
      expect(Math.floor(parseSensorTime(t, 't').us / 1000), t).toBe(ms);
      expect(parseSensorTime(t, 't').iso.slice(0, 23), t).toBe(new Date(ms).toISOString().slice(0, 23));
    }
    // A leap second is the first instant of the next minute.
    expect(parseSensorTime('2016-12-31T23:59:60.500000Z', 't').iso).toBe('2017-01-01T00:00:00.500000Z');
  });

  it('formats microseconds exactly like Date for the millisecond part', () => {
    for (let i = 0; i < 2000; i++) {
      const us = Math.floor(Math.random() * 9_000_000_000_000_000);
      const iso = isoMicros(us);
      expect(iso.slice(0, 23)).toBe(new Date(Math.floor(us / 1000)).toISOString().slice(0, 23));
      expect(iso).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
    }
  });
});

describe('home network', () => {
  const home = new HomeNet([...DEFAULT_HOME_NET]);

  it('classifies IPv4, IPv6 and IPv4-mapped addresses', () => {
    expect(home.contains('10.1.2.3')).toBe(true);
    expect(home.contains('172.31.255.255')).toBe(true);
    expect(home.contains('172.32.0.1')).toBe(false);
    expect(home.contains('fd00::1')).toBe(true);
    expect(home.contains('2001:db8::1')).toBe(false);
    expect(home.contains('::ffff:192.168.1.1')).toBe(true);
    expect(home.contains('not-an-ip')).toBeUndefined();
    // Answers come from a cache the second time; they must not change.
    expect(home.contains('172.32.0.1')).toBe(false);
  });

  it('gives the direction of a connection from its originator', () => {
    expect(home.direction('10.0.0.1', '8.8.8.8')).toBe('outbound');
    expect(home.direction('8.8.8.8', '10.0.0.1')).toBe('inbound');
    expect(home.direction('10.0.0.1', '192.168.0.1')).toBe('lateral');
    expect(home.direction('8.8.8.8', '1.1.1.1')).toBe('unknown');
    expect(home.direction('10.0.0.1', '10.0.0.1')).toBe('local');
    expect(home.direction('127.0.0.1', '10.0.0.1')).toBe('local');
    expect(home.direction('10.0.0.1', '239.255.255.250')).toBe('lateral');
    expect(home.direction('fe80::1', 'ff02::1')).toBe('lateral');
    expect(home.direction('10.0.0.1', 'x')).toBeUndefined();
    expect(new HomeNet([]).direction('10.0.0.1', '8.8.8.8')).toBeUndefined();
    expect(new HomeNet(['0.0.0.0/0']).direction('8.8.8.8', '1.1.1.1')).toBe('lateral');
    expect(new HomeNet(['203.0.113.7']).direction('203.0.113.7', '203.0.113.8')).toBe('outbound');
  });

  it('refuses ranges that are not CIDRs', () => {
    expect(() => new HomeNet(['10.0.0.0/33'])).toThrow(/home_net/);
  });

  it('recognises addresses', () => {
    expect(['1.2.3.4', '::1', '2001:db8::1', 'fe80::1%eth0', '::ffff:10.0.0.1'].every(isIp)).toBe(true);
    expect(['1.2.3', '256.1.1.1', 'a::b::c', 'example.com', '1.2.3.4.5', ''].some(isIp)).toBe(false);
  });
});

describe('observables and content keys', () => {
  it('keeps each observable once', () => {
    const o = new Observables();
    o.add('domain', 'example.com', 'a');
    o.add('domain', 'example.com', 'b');
    o.add('domain', '-', 'c');
    o.ip('example.com', 'd');
    o.ip('10.0.0.1', 'e');
    expect(o.list).toEqual([
      { type: 'domain', value: 'example.com', name: 'a' },
      { type: 'ip', value: '10.0.0.1', name: 'e' },
    ]);
  });

  it('derives the same key from the same content and different keys otherwise', () => {
    expect(contentKey({ a: 1 })).toBe(contentKey({ a: 1 }));
    expect(contentKey({ a: 1 })).not.toBe(contentKey({ a: 2 }));
    expect(contentKey({ a: 1 })).toMatch(/^[0-9a-f]{16}$/);
  });
});
