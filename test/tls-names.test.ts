/** RFC 6125 name matching and SAN parsing, the rules every certificate check relies on. */
import { describe, expect, it } from 'vitest';
import { dnsNameMatches, nameCovered, normalizeIp, parseSubjectAltNames } from '../src/tls/names.js';

describe('RFC 6125 wildcard matching', () => {
  it.each([
    ['*.a.test', 'x.a.test', true],
    ['*.a.test', 'X.A.TEST.', true],
    ['*.a.test', 'a.test', false],
    ['*.a.test', 'y.x.a.test', false],
    ['*.test', 'a.test', false],
    ['f*.a.test', 'foo.a.test', false],
    ['x.*.test', 'x.a.test', false],
    ['www.a.test', 'www.a.test', true],
    ['www.a.test', 'api.a.test', false],
  ])('%s covers %s: %s', (pattern, name, covered) => {
    expect(dnsNameMatches(pattern, name)).toBe(covered);
  });
});

describe('SANs', () => {
  it('parses DNS and IP entries, including quoted ones, and matches IPs by value', () => {
    const sans = parseSubjectAltNames('DNS:a.test, DNS:"b,c.test", IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(sans).toEqual({ dns: ['a.test', 'b,c.test'], ip: ['127.0.0.1', '::1'] });
    expect(nameCovered('::1', sans)).toBe(true);
    expect(nameCovered('[::1]', sans)).toBe(true);
    expect(nameCovered('127.0.0.2', sans)).toBe(false);
    expect(nameCovered('127.0.0.1', { dns: ['127.0.0.1'], ip: [] })).toBe(false);
    expect(normalizeIp('2001:db8::7')).toBe(normalizeIp('2001:0db8:0:0:0:0:0:7'));
  });

  it('reads each entry whole: a DNS: inside a URI or a quoted email is not a DNS name', () => {
    const text =
      'URI:http://x/a DNS:evil.test, DNS:a.test, email:"a@b.test\\u002c DNS:evil2.test", IP Address:0:0:0:0:0:FFFF:102:304, othername:<unsupported>, DNS:b.test';
    expect(parseSubjectAltNames(text)).toEqual({ dns: ['a.test', 'b.test'], ip: ['::ffff:1.2.3.4'] });
  });

  it.each([
    ['0:0:0:0:0:0:0:1', '::1'],
    ['2001:DB8:0:0:0:0:0:7', '2001:db8::7'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['::ffff:1.2.3.4', '::ffff:1.2.3.4'],
    ['[::1]', '::1'],
    ['127.0.0.1', '127.0.0.1'],
  ])('prints %s as %s', (ip, short) => {
    expect(normalizeIp(ip)).toBe(short);
  });
});
