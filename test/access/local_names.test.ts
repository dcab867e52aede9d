// Issue 10.1: a request is addressed to this machine only when its Host (and Origin) is exactly
// localhost, an IPv4 literal in 127.0.0.0/8 or [::1], with or without a port. Every bypass the
// issue found (and their relatives) is a row here.
import { describe, expect, it } from 'vitest';
import {
  isLocalHostHeader,
  isLocalOrigin,
  isLoopbackAddress,
  isLoopbackListenHost,
  localServiceUrl,
} from '../../src/access/local-names.js';

const LOCAL_HOSTS = [
  'localhost',
  'localhost:9090',
  'LOCALHOST:9090',
  '127.0.0.1',
  '127.0.0.1:9090',
  '127.1.2.3:1',
  '127.255.255.255:65535',
  '[::1]',
  '[::1]:9090',
];

const NOT_LOCAL_HOSTS = [
  // DNS names that merely start like a loopback name: an attacker can rebind them to 127.0.0.1.
  '127.0.0.1.attacker.example',
  '127.0.0.1.attacker.example:9090',
  '127.attacker.example',
  '127.attacker.example:9090',
  '127.0.0.1.nip.io',
  'localhost.attacker.example',
  'localhost.anything:9090',
  'localhost.',
  'localhost.:9090',
  '127.0.0.1.',
  'attacker.example',
  'attacker.example:9090',
  // Shorthand and non-decimal IPv4 forms are not literals (a resolver may still map them to 127.x).
  '127.1',
  '127.0.1',
  '0x7f.0.0.1',
  '0177.0.0.1',
  '2130706433',
  '127.0.0.01',
  // Not loopback, or not this exact literal.
  '0.0.0.0',
  '128.0.0.1',
  '10.0.0.1:9090',
  '[::]',
  '[::ffff:127.0.0.1]',
  '[0:0:0:0:0:0:0:1]',
  '::1',
  '[::1',
  '[::1]x',
  // Port and syntax tricks.
  'localhost:',
  'localhost:abc',
  'localhost:99999',
  'localhost:9090:9090',
  'localhost:9090.attacker.example',
  'user@localhost',
  'localhost@attacker.example',
  'localhost/evil',
  'localhost evil',
  '',
];

describe('the local-name rule', () => {
  it.each(LOCAL_HOSTS)('Host %j is local', (host) => {
    expect(isLocalHostHeader(host)).toBe(true);
  });

  it.each(NOT_LOCAL_HOSTS)('Host %j is not local', (host) => {
    expect(isLocalHostHeader(host)).toBe(false);
  });

  it('applies the same rule to the host of an Origin', () => {
    for (const host of LOCAL_HOSTS) {
      expect(isLocalOrigin(`http://${host}`), host).toBe(true);
      expect(isLocalOrigin(`https://${host}`), host).toBe(true);
    }
    for (const host of NOT_LOCAL_HOSTS) expect(isLocalOrigin(`http://${host}`), host).toBe(false);
    for (const origin of ['null', 'localhost', 'file://', 'ftp://localhost', 'http://localhost/', 'http://localhost:3000/path', 'chrome-extension://abc']) {
      expect(isLocalOrigin(origin), origin).toBe(false);
    }
  });

  it('recognizes loopback socket addresses, IPv4-mapped ones included, and nothing else', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) expect(isLoopbackAddress(a), a).toBe(true);
    for (const a of ['10.0.0.1', '192.168.1.10', '::ffff:10.0.0.1', 'fd00::2', '0.0.0.0', '127.attacker.example', '', undefined]) {
      expect(isLoopbackAddress(a), String(a)).toBe(false);
    }
  });

  it('recognizes loopback listen hosts', () => {
    for (const h of ['127.0.0.1', '127.0.0.2', 'localhost', '::1', '[::1]']) expect(isLoopbackListenHost(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '192.168.1.10', 'example.com', '127.attacker.example', '127.0.0.1.attacker.example']) {
      expect(isLoopbackListenHost(h), h).toBe(false);
    }
  });

  it('builds the URL a local client uses', () => {
    expect(localServiceUrl('127.0.0.1', 9090)).toBe('http://127.0.0.1:9090');
    expect(localServiceUrl('0.0.0.0', 1)).toBe('http://127.0.0.1:1');
    expect(localServiceUrl('::', 1)).toBe('http://127.0.0.1:1');
    expect(localServiceUrl('::1', 2)).toBe('http://[::1]:2');
  });
});
