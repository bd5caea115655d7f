import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/**
 * Addresses a webhook or an upstream may not reach (unless WEBHOOK_ALLOW_PRIVATE, PROVIDERS_ALLOW_PRIVATE): unspecified, loopback,
 * private, shared (CGNAT), link-local, benchmarking, multicast and reserved ranges, v4 and v6.
 * IPv4 embedded in IPv6 (mapped `::ffff:a.b.c.d`, translated `::ffff:0:a.b.c.d`, compatible
 * `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002:aabb:ccdd::/48`) is checked as the IPv4 address it
 * carries; Teredo (`2001::/32`), whose embedded address is obfuscated, is refused whole.
 */
const BLOCKED = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24],
  ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) BLOCKED.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8], ['2001:db8::', 32], ['100::', 64],
  ['2001::', 32], ['64:ff9b:1::', 48],
] as const) BLOCKED.addSubnet(net, bits, 'ipv6');

/** The 16 bytes of an IPv6 address (any textual form, with or without an embedded dotted quad). */
function ipv6Bytes(addr: string): number[] {
  let a = addr.split('%')[0]!.toLowerCase();
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (dotted) {
    const [p, q, r, s] = dotted[1]!.split('.').map(Number) as [number, number, number, number];
    a = `${a.slice(0, dotted.index)}${((p << 8) | q).toString(16)}:${((r << 8) | s).toString(16)}`;
  }
  const [head, tail] = a.includes('::') ? a.split('::') as [string, string] : [a, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined ? (tail ? tail.split(':') : []) : [];
  const groups = [...h, ...Array(tail !== undefined ? 8 - h.length - t.length : 0).fill('0'), ...t].map((g) => parseInt(g, 16));
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}

/** The IPv4 address an IPv6 one carries (mapped, translated, compatible, NAT64 or 6to4), if any. */
function embeddedIpv4(addr: string): string | undefined {
  const b = ipv6Bytes(addr);
  const zeros = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  const mapped = zeros(0, 10) && b[10] === 0xff && b[11] === 0xff;
  const translated = zeros(0, 8) && b[8] === 0xff && b[9] === 0xff && zeros(10, 12);
  const compatible = zeros(0, 12) && !zeros(12, 16) && !(zeros(12, 15) && b[15] === 1);
  const nat64 = b[0] === 0 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeros(4, 12);
  if (b[0] === 0x20 && b[1] === 0x02) return b.slice(2, 6).join('.'); // 6to4
  return mapped || translated || compatible || nat64 ? b.slice(12).join('.') : undefined;
}

/** Whether a literal IP address is one a webhook may not reach. */
export function isPrivateAddress(addr: string): boolean {
  const family = isIP(addr);
  if (family === 4) return BLOCKED.check(addr, 'ipv4');
  if (family !== 6) return true;
  const v4 = embeddedIpv4(addr);
  return v4 ? BLOCKED.check(v4, 'ipv4') : BLOCKED.check(addr, 'ipv6');
}

/** Why a webhook URL is refused. */
export class BlockedAddressError extends Error {
  override name = 'BlockedAddressError';
}

/**
 * Resolves a host name to the one address a delivery connects to: every address it resolves
 * to must be allowed (a name with one private address among public ones is refused whole),
 * and the first is returned so the connection goes to the address that was checked.
 */
export async function resolveAllowed(hostname: string, allowPrivate: boolean): Promise<{ address: string; family: 4 | 6 }> {
  const host = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  const literal = isIP(host);
  const all = literal ? [{ address: host, family: literal }] : await lookup(host, { all: true, verbatim: true });
  if (all.length === 0) throw new BlockedAddressError(`${host} does not resolve`);
  if (!allowPrivate) {
    const bad = all.find((a) => isPrivateAddress(a.address));
    // The address itself is not named: a caller must not learn what an internal name resolves to.
    if (bad) throw new BlockedAddressError(`${host} resolves to a private, loopback or link-local address`);
  }
  const first = all[0]!;
  return { address: first.address, family: first.family === 6 ? 6 : 4 };
}
