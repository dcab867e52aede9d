// Node module hooks that run this project's TypeScript in a child process (Node 20 cannot strip
// types itself): transpile .ts with the project's own typescript, and map the `./x.js`
// specifiers that NodeNext requires onto the `./x.ts` sources.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Loading typescript costs about a second per process, so outputs are cached by content.
const cacheDir = join(tmpdir(), 'ccb-store-tests-ts-cache');
// require, not import(): import() of CommonJS scans all 9 MB of typescript.js for its export names.
const require = createRequire(import.meta.url);
let ts;

export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (err) {
    const fromTs = context.parentURL?.endsWith('.ts');
    if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !fromTs || !/^\.\.?\/.*\.js$/.test(specifier)) throw err;
    return next(`${specifier.slice(0, -3)}.ts`, context);
  }
}

export async function load(url, context, next) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return next(url, context);
  const source = await readFile(new URL(url), 'utf8');
  const cached = join(cacheDir, `${createHash('sha256').update(url).update('\0').update(source).digest('hex')}.js`);
  const output = await readFile(cached, 'utf8').catch(async () => {
    const text = transpile(url, source);
    await mkdir(cacheDir, { recursive: true });
    const temp = `${cached}.${process.pid}.tmp`;
    await writeFile(temp, text);
    await rename(temp, cached);
    return text;
  });
  return { format: 'module', source: output, shortCircuit: true };
}

function transpile(url, source) {
  ts ??= require('typescript');
  return ts.transpileModule(source, {
    fileName: fileURLToPath(url),
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, inlineSourceMap: true },
  }).outputText;
}
