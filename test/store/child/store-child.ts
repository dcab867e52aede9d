// Runs store operations in a fresh process, whose keytar binds to the D-Bus address in its own
// environment. Usage: node --import ./register.mjs store-child.ts '<ops as JSON>'
// Prints one JSON line: one result per op.
import type { AccountRecord } from '../../../src/store/account-record.js';
import { KeyringTokenStore, probeSecretService } from '../../../src/store/keyring-store.js';
import { createTokenStore, type StoreSettings } from '../../../src/store/select-store.js';
import { StoreError } from '../../../src/store/token-store.js';

export type ChildOp =
  | { op: 'load'; service: string; timeoutMs?: number }
  | { op: 'save'; service: string; account: AccountRecord }
  | { op: 'remove'; service: string; email: string }
  | { op: 'loadDocument'; service: string; name: string }
  | { op: 'saveDocument'; service: string; name: string; value: unknown }
  | { op: 'probe'; timeoutMs?: number; service?: string }
  | { op: 'create'; settings: StoreSettings; probeTimeoutMs?: number };

export type ChildResult =
  | { ok: true; value: unknown; ms: number }
  | { ok: false; error: { name: string; code?: string; message: string }; ms: number };

async function perform(op: ChildOp): Promise<unknown> {
  switch (op.op) {
    case 'load':
      return new KeyringTokenStore(op.service, op.timeoutMs).load();
    case 'save':
      return new KeyringTokenStore(op.service).save(op.account);
    case 'remove':
      return new KeyringTokenStore(op.service).remove(op.email);
    case 'loadDocument':
      return new KeyringTokenStore(op.service).loadDocument(op.name);
    case 'saveDocument':
      return new KeyringTokenStore(op.service).saveDocument(op.name, op.value);
    case 'probe': {
      const probe = await probeSecretService(op.timeoutMs, op.service);
      return probe.ok ? probe : { ok: false, reason: probe.reason, code: probe.error.code };
    }
    case 'create': {
      const { store, reason } = await createTokenStore(op.settings, { probeTimeoutMs: op.probeTimeoutMs });
      return { kind: store.kind, location: store.location, reason };
    }
  }
}

const results: ChildResult[] = [];
for (const op of JSON.parse(process.argv[2] ?? '[]') as ChildOp[]) {
  const start = performance.now();
  try {
    const value = await perform(op);
    results.push({ ok: true, value: value ?? null, ms: performance.now() - start });
  } catch (err) {
    const e = err as Error;
    const code = err instanceof StoreError ? err.code : undefined;
    results.push({ ok: false, error: { name: e.name, code, message: e.message }, ms: performance.now() - start });
  }
}
process.stdout.write(`${JSON.stringify(results)}\n`);
