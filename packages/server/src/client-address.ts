import { isIPv6 } from 'node:net';

/**
 * The key a client is counted under: an IPv4 address as such (also when it arrives IPv4-mapped,
 * `::ffff:a.b.c.d`, on a dual-stack listener), an IPv6 address by its /64, since one host usually holds a
 * whole /64 and could otherwise pick a fresh address per connection.
 */
export function clientAddressKey(address: string): string {
  const bare = address.replace(/%.*$/, '').toLowerCase(); // Zone id (fe80::1%eth0) names our interface.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(bare);
  if (mapped?.[1] !== undefined) return mapped[1];
  if (!isIPv6(bare)) return bare;
  const [head = '', tail = ''] = bare.includes('::') ? bare.split('::') : [bare, ''];
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  // An embedded IPv4 tail (::1.2.3.4) fills two groups; it never reaches the first four.
  const width = (parts: string[]) => parts.reduce((sum, part) => sum + (part.includes('.') ? 2 : 1), 0);
  const headGroups = groups(head);
  const tailGroups = groups(tail);
  const zeros = Array<string>(8 - width(headGroups) - width(tailGroups)).fill('0');
  const prefix = [...headGroups, ...zeros, ...tailGroups].slice(0, 4);
  return `${prefix.map((group) => Number.parseInt(group, 16).toString(16)).join(':')}::/64`;
}
