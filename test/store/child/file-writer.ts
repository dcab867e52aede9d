// Saves accounts to a FileTokenStore in an endless loop, until killed.
// Usage: node --import ./register.mjs file-writer.ts <path>
import { FileTokenStore } from '../../../src/store/file-store.js';
import { account } from '../accounts.js';

const store = new FileTokenStore(process.argv[2]!);
// Large enough (~400 KB per file) that a kill often lands in the middle of a write.
const padding = 'x'.repeat(2000);
for (let i = 0; ; i++) {
  await store.save(account(`user${i % 100}@example.com`, { access_token: `${i}-${padding}`, usage_count: i }));
}
