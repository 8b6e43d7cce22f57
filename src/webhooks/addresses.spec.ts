import { addressRefusal, ipv6ToBigInt, parseWebhookUrl, privateAddressReason } from './addresses';

describe('privateAddressReason', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['100.127.255.255', 'carrier-grade NAT'],
    ['0.0.0.0', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fc00::1', 'unique local'],
    ['fd12:3456::1', 'unique local'],
    ['fe80::1', 'link-local'],
    ['febf::1', 'link-local'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['::ffff:10.0.0.1', 'private'],
    ['64:ff9b::a9fe:a9fe', 'link-local'],
  ])('refuses %s (%s)', (address, kind) => {
    expect(privateAddressReason(address)).toContain(kind);
  });

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2606:4700::1111', '::ffff:8.8.8.8'])(
    'lets the public address %s through',
    (address) => {
      expect(privateAddressReason(address)).toBeNull();
    },
  );

  it('says a name is not an address', () => {
    expect(privateAddressReason('localhost')).toBe('not an IP address');
  });

  it('reads IPv6 with :: anywhere and IPv4 tails', () => {
    expect(ipv6ToBigInt('::1')).toBe(1n);
    expect(ipv6ToBigInt('1::')).toBe(1n << 112n);
    expect(ipv6ToBigInt('::ffff:1.2.3.4')).toBe((0xffffn << 32n) | 0x01020304n);
  });
});

describe('parseWebhookUrl', () => {
  it('takes https URLs', () => {
    expect(parseWebhookUrl('https://example.com/hook', false).hostname).toBe('example.com');
  });

  it.each([
    ['not a url', 'absolute URL'],
    ['ftp://example.com/', 'https://'],
    ['http://example.com/', 'must use https'],
    ['https://user:pw@example.com/', 'credentials'],
    ['https://example.com/#x', 'fragment'],
  ])('refuses %s', (url, why) => {
    expect(() => parseWebhookUrl(url, false)).toThrow(why);
  });

  it('takes plain http only when private URLs are allowed', () => {
    expect(parseWebhookUrl('http://127.0.0.1:8080/', true).port).toBe('8080');
  });
});

describe('addressRefusal', () => {
  const https = new URL('https://hooks.example.com/');
  const http = new URL('http://hooks.example.com/');

  it('refuses private addresses unless allowed', () => {
    expect(addressRefusal(https, '127.0.0.1', false)).toMatch(
      /loopback.*WEBHOOK_ALLOW_PRIVATE_URLS/,
    );
    expect(addressRefusal(https, '127.0.0.1', true)).toBeNull();
    expect(addressRefusal(https, '93.184.216.34', false)).toBeNull();
  });

  it('keeps plain http to private addresses', () => {
    expect(addressRefusal(http, '10.0.0.5', true)).toBeNull();
    expect(addressRefusal(http, '93.184.216.34', true)).toMatch(/use https/);
  });
});
