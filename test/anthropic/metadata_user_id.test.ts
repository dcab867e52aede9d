// The session id of a client without x-claude-code-session-id comes from the body's top-level
// metadata.user_id, found by a bounded scan (the body is never parsed whole): only the top-level
// one counts, an ambiguous body gives none, and a hostile body costs a bounded amount of work.
import { describe, expect, it } from 'vitest';
import { MAX_STRUCTURE_BYTES, metadataUserId } from '../../src/anthropic/metadata-user-id.js';
import { sessionIdentity } from '../../src/anthropic/session-identity.js';

const scan = (text: string) => metadataUserId(Buffer.from(text));
const userId = JSON.stringify({ device_id: 'd', session_id: 'S1' });

describe('metadataUserId', () => {
  it('finds the top-level one wherever it is, after any amount of conversation', () => {
    const messages = Array.from({ length: 200 }, (_, i) => ({ role: 'user', content: [{ type: 'text', text: `turn ${i} "quoted" \\ {[` }] }));
    expect(scan(JSON.stringify({ model: 'm', messages, metadata: { user_id: userId }, stream: true }))).toBe(userId);
    expect(scan(JSON.stringify({ metadata: { other: [1, { user_id: 'x' }], user_id: userId }, messages }))).toBe(userId);
    expect(scan(` \n{ "metadata" : { "user_id" : "u1" } } `)).toBe('u1');
  });

  it('decodes escapes in the keys and the value as a JSON parser would', () => {
    expect(scan('{"meta\\u0064ata":{"user\\u005fid":"a\\"b\\u00e9"}}')).toBe('a"bé');
  });

  it('never takes a nested metadata.user_id (a tool input, a message) for the top-level one', () => {
    const decoy = { type: 'tool_use', id: 't', name: 'n', input: { metadata: { user_id: 'decoy' } } };
    expect(scan(JSON.stringify({ messages: [{ role: 'assistant', content: [decoy] }] }))).toBeUndefined();
    expect(scan(JSON.stringify({ tools: [{ metadata: { user_id: 'decoy' } }], x: { metadata: { user_id: 'decoy' } } }))).toBeUndefined();
    expect(scan(JSON.stringify({ text: '"metadata":{"user_id":"decoy"}' }))).toBeUndefined();
  });

  it('gives none when the body is ambiguous: two metadata keys, or two user_id keys in it', () => {
    expect(scan('{"metadata":{"user_id":"a"},"metadata":{"user_id":"b"}}')).toBeUndefined();
    expect(scan('{"metadata":{"user_id":"a"},"metadata":null}')).toBeUndefined();
    expect(scan('{"metadata":"x","metadata":{"user_id":"b"}}')).toBeUndefined();
    expect(scan('{"metadata":{"user_id":"a","user_id":"b"}}')).toBeUndefined();
    expect(scan('{"metadata":{"user_id":{"x":1},"user_id":"b"}}')).toBeUndefined();
  });

  it('gives none for what is not a JSON object or not a string user_id', () => {
    expect(scan('[{"metadata":{"user_id":"a"}}]')).toBeUndefined();
    expect(scan('{"metadata":{"user_id":42}}')).toBeUndefined();
    expect(scan('{"metadata":{"user_id":"unterminated}}')).toBeUndefined();
    expect(scan('{"metadata":{"user_id":"a"}')).toBeUndefined(); // never closed
  });

  it('gives up on a nesting bomb or a body of tiny tokens after MAX_STRUCTURE_BYTES of structure', () => {
    const bomb = Buffer.from(`{"user_id":1,"a":${'['.repeat(8 * 1024 * 1024)}`);
    expect(metadataUserId(bomb)).toBeUndefined();
    const tail = ',"metadata":{"user_id":"late"}}';
    const within = `{"a":[${'1,'.repeat((MAX_STRUCTURE_BYTES - 100) / 2)}1]${tail}`;
    expect(scan(within)).toBe('late');
    const beyond = `{"a":[${'1,'.repeat(MAX_STRUCTURE_BYTES / 2)}1]${tail}`;
    expect(scan(beyond)).toBeUndefined();
    // Escaped quotes inside one long string are paid from the same budget.
    expect(scan(`{"a":"${'\\"'.repeat(MAX_STRUCTURE_BYTES)}"${tail}`)).toBeUndefined();
    expect(scan(`{"a":"${'x'.repeat(4 * MAX_STRUCTURE_BYTES)}"${tail}`)).toBe('late');
  });
});

describe('sessionIdentity', () => {
  it('takes the header first and reads the body only without it', () => {
    const body = Buffer.from(JSON.stringify({ metadata: { user_id: userId } }));
    expect(sessionIdentity({ 'x-claude-code-session-id': 'H' }, body)).toBe('H');
    expect(sessionIdentity({}, body)).toBe('S1');
    expect(sessionIdentity({}, Buffer.from('{"metadata":{"user_id":"user_abc"}}'))).toBeUndefined();
    expect(sessionIdentity({}, undefined)).toBeUndefined();
  });
});
