// Debian's headless Chromium driven by playwright-core: pages whose console errors and uncaught
// exceptions are collected, so a test can require there were none.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
/** Where screenshots go (git-ignored). */
export const ARTIFACTS = join(import.meta.dirname, '..', 'artifacts');

export interface BrowserSession {
  context: BrowserContext;
  page: Page;
  /** Console errors and page errors seen so far. */
  errors: string[];
  close(): Promise<void>;
}

let browser: Browser | undefined;

async function shared(): Promise<Browser> {
  // Chromium refuses to start its sandbox as root (CI runs as root).
  browser ??= await chromium.launch({ executablePath: CHROMIUM, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [], timeout: 60_000 });
  return browser;
}

export async function openBrowser(options: BrowserContextOptions = {}): Promise<BrowserSession> {
  // One locale and time zone, so times on the page can be asserted exactly.
  const context = await (await shared()).newContext({ locale: 'en-GB', timezoneId: 'UTC', ...options });
  context.setDefaultTimeout(15_000);
  const errors: string[] = [];
  const watch = (page: Page) => {
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`${page.url()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`));
  };
  context.on('page', watch);
  const page = await context.newPage();
  return { context, page, errors, close: () => context.close() };
}

export async function closeBrowser(): Promise<void> {
  await browser?.close();
  browser = undefined;
}

export function artifactPath(name: string): string {
  mkdirSync(ARTIFACTS, { recursive: true });
  return join(ARTIFACTS, name);
}
