import { isIPv4, isIPv6 } from 'node:net';

/**
 * Truncates an IP address to its network: IPv4 to /24 (`203.0.113.0/24`), IPv6 to /48
 * (`2001:db8:85a3::/48`); an IPv4-mapped IPv6 address (`::ffff:203.0.113.7`) counts as IPv4. What remains
 * names a network (an operator, a site), not a host. Anything that is not an address answers null: dropped
 * rather than kept in a form nobody checked.
 */
export function truncateIp(address: string): string | null {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  const v4 = mapped ?? address;
  if (isIPv4(v4)) {
    const [a, b, c] = v4.split('.');
    return `${a}.${b}.${c}.0/24`;
  }
  // A zone id (`fe80::1%eth0`) names this host's interface: not part of the address.
  const v6 = address.split('%')[0] ?? '';
  if (!isIPv6(v6)) return null;
  const groups = expandIpv6(v6).slice(0, 3);
  const shown = groups.map((group) => group.replace(/^0+(?=.)/, ''));
  return `${shown.join(':')}::/48`;
}

/** The eight 16-bit groups of a valid IPv6 address, as hex (an embedded IPv4 tail converted). */
function expandIpv6(address: string): string[] {
  let text = address.toLowerCase();
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1];
  if (tail !== undefined) {
    const [a = 0, b = 0, c = 0, d = 0] = tail.split('.').map(Number);
    text = `${text.slice(0, -tail.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', rest] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = rest === undefined || rest === '' ? [] : rest.split(':');
  const zeros = rest === undefined ? [] : new Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right];
}
