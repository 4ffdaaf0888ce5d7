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
    expect(sans).toEqual({ dns: ['a.test', 'b,c.test'], ip: ['127.0.0.1', '0:0:0:0:0:0:0:1'] });
    expect(nameCovered('::1', sans)).toBe(true);
    expect(nameCovered('[::1]', sans)).toBe(true);
    expect(nameCovered('127.0.0.2', sans)).toBe(false);
    expect(nameCovered('127.0.0.1', { dns: ['127.0.0.1'], ip: [] })).toBe(false);
    expect(normalizeIp('2001:db8::7')).toBe(normalizeIp('2001:0db8:0:0:0:0:0:7'));
  });
});
