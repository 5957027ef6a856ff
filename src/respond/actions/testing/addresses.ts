import { networkInterfaces } from 'node:os';

/**
 * Addresses no block action may ever accept, in the spellings an attacker
 * would try: IPv4-mapped IPv6 (dotted and hex), unspecified, loopback,
 * link-local (the cloud metadata endpoint among them), multicast, broadcast,
 * and every address of this machine's own interfaces.
 */
export function unblockableSamples(): string[] {
  const own = Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .map((a) => a.address.split('%')[0]!);
  return [
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '127.0.0.1',
    '127.8.9.10',
    '::1',
    '0.0.0.0',
    '::',
    '::ffff:0.0.0.0',
    'fe80::1',
    '169.254.169.254',
    '::ffff:169.254.169.254',
    '224.0.0.1',
    'ff02::1',
    '255.255.255.255',
    ...own,
  ];
}

/** Bad inputs for the conformance suite: each unblockable address in the field that names the target. */
export function unblockableInputs(
  make: (ip: string) => Record<string, unknown>,
  field: string,
): Array<{ input: unknown; field: string }> {
  return unblockableSamples().map((ip) => ({ input: make(ip), field }));
}
