// A request body the size and shape of Claude Code's late in a session: a long system prompt,
// 20 tools with JSON schemas, 100 turns of conversation (text, tool calls, tool results) and
// metadata.user_id. About 140 KB. Written as a load.lua body template (one __REQ_TAG__).
import { writeFileSync } from 'node:fs';

const words = 'the service forwards every request unchanged to the account that serves it and keeps tokens fresh'.split(' ');
/** Deterministic prose of about n bytes. */
function prose(n, seed) {
  let out = '';
  for (let i = seed; out.length < n; i++) out += `${words[(i * 7) % words.length]} `;
  return out.slice(0, n);
}

function tools() {
  return Array.from({ length: 20 }, (_, i) => ({
    name: `Tool${i}`,
    description: prose(900, i),
    input_schema: {
      type: 'object',
      properties: {
        path: { type: 'string', description: prose(120, i + 1) },
        content: { type: 'string', description: prose(120, i + 2) },
        options: { type: 'object', properties: { recursive: { type: 'boolean' }, limit: { type: 'number' } } },
      },
      required: ['path'],
      additionalProperties: false,
      $schema: 'http://json-schema.org/draft-07/schema#',
    },
  }));
}

function turns() {
  const messages = [];
  for (let t = 0; t < 100; t++) {
    if (t % 2 === 0) {
      const content = t % 4 === 2
        ? [{ type: 'tool_result', tool_use_id: `toolu_${t - 1}`, content: prose(1400, t) }]
        : [{ type: 'text', text: prose(900, t) }];
      messages.push({ role: 'user', content });
    } else {
      messages.push({
        role: 'assistant',
        content: [
          { type: 'text', text: prose(300, t) },
          { type: 'tool_use', id: `toolu_${t}`, name: `Tool${t % 20}`, input: { path: `/src/file${t}.ts`, options: { limit: t } } },
        ],
      });
    }
  }
  messages.push({ role: 'user', content: [{ type: 'text', text: '__REQ_TAG__ and now the next step' }] });
  return messages;
}

export function claudeCodeBody(stream) {
  return JSON.stringify({
    model: 'claude-sonnet-4-5-20250929',
    max_tokens: 32000,
    ...(stream ? { stream: true } : {}),
    system: [
      { type: 'text', text: "You are Claude Code, Anthropic's official CLI for Claude." },
      { type: 'text', text: prose(24_000, 3), cache_control: { type: 'ephemeral' } },
    ],
    tools: tools(),
    messages: turns(),
    metadata: { user_id: JSON.stringify({ device_id: 'd'.repeat(64), account_uuid: '00000000-0000-4000-8000-000000000000', session_id: 'bench' }) },
  });
}

/** Writes <base>.json and <base>.stream (the template load.lua reads); returns the body size in bytes. */
export function writeClaudeCodeTemplate(base) {
  const json = claudeCodeBody(false);
  writeFileSync(`${base}.json`, json);
  writeFileSync(`${base}.stream`, claudeCodeBody(true));
  return Buffer.byteLength(json);
}
