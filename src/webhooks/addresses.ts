import { isIP } from 'node:net';

/**
 * Which addresses a webhook may not reach unless the operator allows private URLs: anything
 * that is not the public internet, where a request made on a user's behalf could reach
 * keymeter's own network (SSRF): the cloud metadata service, databases on loopback, the LAN.
 */
const IPV4_RANGES: readonly [string, number, string][] = [
  ['0.0.0.0', 8, 'an unspecified address'],
  ['10.0.0.0', 8, 'a private address'],
  ['100.64.0.0', 10, 'a carrier-grade NAT address'],
  ['127.0.0.0', 8, 'a loopback address'],
  ['169.254.0.0', 16, 'a link-local address (cloud metadata lives there)'],
  ['172.16.0.0', 12, 'a private address'],
  ['192.0.0.0', 24, 'a reserved address'],
  ['192.168.0.0', 16, 'a private address'],
  ['198.18.0.0', 15, 'a reserved address'],
  ['224.0.0.0', 4, 'a multicast address'],
  ['240.0.0.0', 4, 'a reserved address'],
];

/** [first 16 bits, prefix length], for the ranges that matter; IPv4 forms are unwrapped first. */
const IPV6_RANGES: readonly [bigint, number, string][] = [
  [0xfc00n << 112n, 7, 'a private (unique local) address'],
  [0xfe80n << 112n, 10, 'a link-local address'],
  [0xff00n << 112n, 8, 'a multicast address'],
];

function ipv4ToInt(address: string): number {
  return address.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

function ipv4Reason(address: string): string | null {
  const n = ipv4ToInt(address);
  for (const [base, bits, reason] of IPV4_RANGES) {
    const size = 2 ** (32 - bits);
    const start = ipv4ToInt(base);
    if (n >= start && n < start + size) return reason;
  }
  return null;
}

/** An IPv6 address as a 128-bit integer (with an IPv4 tail, as `::ffff:1.2.3.4` writes it). */
export function ipv6ToBigInt(address: string): bigint {
  let text = address.toLowerCase().replace(/%.*$/, '');
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail) {
    const n = ipv4ToInt(tail[1]);
    text = `${text.slice(0, -tail[1].length)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head, rest] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = rest === undefined || rest === '' ? [] : rest.split(':');
  const groups =
    rest === undefined
      ? left
      : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.reduce((n, group) => (n << 16n) | BigInt(parseInt(group, 16)), 0n);
}

function intToIpv4(n: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((n >> shift) & 0xffn)).join('.');
}

function ipv6Reason(address: string): string | null {
  const n = ipv6ToBigInt(address);
  if (n === 0n) return 'an unspecified address';
  if (n === 1n) return 'a loopback address';
  const high96 = n >> 32n;
  // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d):
  // the IPv4 address inside is what the connection reaches.
  if (high96 === 0xffffn || high96 === 0n || high96 === 0x64ff9bn << 64n) {
    const reason = ipv4Reason(intToIpv4(n & 0xffffffffn));
    return reason === null ? null : `${reason} (in IPv6 form)`;
  }
  for (const [base, bits, reason] of IPV6_RANGES) {
    const shift = BigInt(128 - bits);
    if (n >> shift === base >> shift) return reason;
  }
  return null;
}

/**
 * Why an IP address is not on the public internet (loopback, private, link-local, metadata,
 * CGNAT, unspecified, multicast, reserved, and the IPv6 forms of those), or null when it is.
 */
export function privateAddressReason(address: string): string | null {
  const family = isIP(address);
  if (family === 4) return ipv4Reason(address);
  if (family === 6) return ipv6Reason(address);
  return 'not an IP address';
}

/** The host of a URL as an address or name (IPv6 literals lose their brackets). */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/** A webhook URL that cannot be used, and why (the 400's message). */
export class WebhookUrlError extends Error {}

/**
 * The checks that need no DNS: an absolute http(s) URL without credentials or fragment. Plain
 * http only when private URLs are allowed (it is then also held to private addresses).
 */
export function parseWebhookUrl(text: string, allowPrivate: boolean): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new WebhookUrlError('url must be an absolute URL such as https://example.com/webhooks');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new WebhookUrlError('url must start with https://');
  }
  if (url.protocol === 'http:' && !allowPrivate) {
    throw new WebhookUrlError(
      'url must use https (plain http only reaches private addresses, with WEBHOOK_ALLOW_PRIVATE_URLS=true)',
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw new WebhookUrlError('url must not contain credentials');
  }
  if (url.hash !== '') throw new WebhookUrlError('url must not have a #fragment');
  return url;
}

/**
 * Whether `url` may be reached at `address` (one it resolved to): public addresses over https;
 * private ones only when allowed, and then plain http only to them. The message says why not.
 */
export function addressRefusal(url: URL, address: string, allowPrivate: boolean): string | null {
  const reason = privateAddressReason(address);
  if (reason !== null && !allowPrivate) {
    return `${hostOf(url)} resolves to ${address}, ${reason}: webhooks only go to public addresses (WEBHOOK_ALLOW_PRIVATE_URLS is off)`;
  }
  if (reason === null && url.protocol === 'http:') {
    return `${hostOf(url)} resolves to ${address}, a public address: use https`;
  }
  return null;
}
