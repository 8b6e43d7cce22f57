import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import {
  chromium,
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  type Page,
} from 'playwright-core';
import { startApp, type StartOptions, type TestApp } from './app';

/** Debian's Chromium (`apt-get install chromium`); playwright's own download is unreachable. */
export const CHROMIUM = process.env.KEYMETER_CHROMIUM ?? '/usr/bin/chromium';

/** The flags PLATFORM.md lists for these machines (playwright adds --headless itself). */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const ROOT = path.resolve(__dirname, '..', '..');
const DASHBOARD_INDEX = path.join(ROOT, 'dashboard', 'dist', 'index.html');

/** Builds the dashboard when dashboard/dist is missing (jest run without `npm run build`). */
export function ensureDashboardBuilt(): void {
  if (existsSync(DASHBOARD_INDEX)) return;
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build-dashboard.mjs')], {
    cwd: ROOT,
    stdio: 'inherit',
  });
}

export const browserSkipBanner = () =>
  [
    '',
    '!'.repeat(78),
    `!! Browser e2e tests SKIPPED: no Chromium at ${CHROMIUM}.`,
    '!! The dashboard was not tested in a browser. Install it (apt-get install chromium)',
    '!! or set KEYMETER_CHROMIUM. CI sets KEYMETER_REQUIRE_BROWSER=1 and fails instead.',
    '!'.repeat(78),
    '',
  ].join('\n');

export interface BrowserRun {
  testApp: TestApp;
  browser: Browser;
  /** http://127.0.0.1:PORT of the real app, listening on an ephemeral port. */
  baseUrl: string;
}

/**
 * Declares a browser suite: the real application (startApp, fresh SQLite) listening on an
 * ephemeral port, and one headless Chromium for the suite. Without Chromium the suite is not
 * declared at all; a loud banner says so, and KEYMETER_REQUIRE_BROWSER=1 (CI) makes it a failure.
 */
export function describeInBrowser(
  title: string,
  body: (run: () => BrowserRun) => void,
  options: StartOptions = {},
): void {
  if (!existsSync(CHROMIUM)) {
    if (process.env.KEYMETER_REQUIRE_BROWSER === '1') {
      throw new Error(`KEYMETER_REQUIRE_BROWSER=1 but there is no Chromium at ${CHROMIUM}`);
    }
    console.warn(browserSkipBanner());
    // Jest refuses a test file that declares no test: this one records why nothing ran.
    it(`SKIPPED "${title}": no Chromium at ${CHROMIUM}`, () => {
      expect(existsSync(CHROMIUM)).toBe(false);
    });
    return;
  }
  describe(title, () => {
    let current: BrowserRun | undefined;
    beforeAll(async () => {
      ensureDashboardBuilt();
      const testApp = await startApp('sqlite', options);
      try {
        await testApp.app.listen(0, '127.0.0.1');
        const { port } = testApp.app.getHttpServer().address() as AddressInfo;
        const browser = await chromium.launch({
          executablePath: CHROMIUM,
          headless: true,
          args: CHROMIUM_ARGS,
        });
        current = { testApp, browser, baseUrl: `http://127.0.0.1:${port}` };
      } catch (error) {
        await testApp.close();
        throw error;
      }
    });
    afterAll(async () => {
      await current?.browser.close();
      await current?.testApp.close();
    });
    body(() => {
      if (!current) throw new Error('the browser suite did not start');
      return current;
    });
  });
}

/** A phone-sized, touch, UTC, English browser context (390 × 844), 10 s per step. */
export async function phoneContext(
  browser: Browser,
  baseUrl: string,
  options: { deviceScaleFactor?: number } = {},
): Promise<BrowserContext> {
  const phone = await browser.newContext({
    baseURL: baseUrl,
    viewport: { width: 390, height: 844 },
    ...options,
    isMobile: true,
    hasTouch: true,
    locale: 'en-US',
    timezoneId: 'UTC',
  });
  phone.setDefaultTimeout(10_000);
  return phone;
}

/**
 * A page in a desktop-sized, UTC, English browser context (1280 × 800), 10 s per step, whose
 * uncaught script errors and console errors are pushed onto `problems` (for a suite's last
 * "breaks no script" test). Chromium logs every 4xx answer to fetch() as a console error and the
 * dashboard expects some (the sign-in page's session check, 400s in dialogs): console errors
 * that match `ignoredConsoleErrors` (by default, any 4xx) are not problems.
 */
export async function desktopPage(
  browser: Browser,
  baseUrl: string,
  problems: string[],
  options: { context?: BrowserContextOptions; ignoredConsoleErrors?: RegExp } = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const ignored = options.ignoredConsoleErrors ?? /status of 4\d\d/;
  const context = await browser.newContext({
    baseURL: baseUrl,
    viewport: { width: 1280, height: 800 },
    locale: 'en-US',
    timezoneId: 'UTC',
    ...options.context,
  });
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !ignored.test(message.text())) problems.push(message.text());
  });
  return { context, page };
}

/** Opens the dashboard on `page` and signs in with the account's email and password. */
export async function signIn(page: Page, email: string, password: string): Promise<void> {
  await page.goto('/');
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}
