import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { PrismaService } from '../../src/prisma/prisma.service';
import { describeInBrowser, phoneContext, signIn } from '../helpers/browser';
import { injectUsage, KEY_SHAPE } from '../helpers/optidash-fixtures';

const DAY = 86_400_000;
const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * Screenshots for the README go to docs/screenshots when KEYMETER_SCREENSHOTS=1 (`npm run
 * screenshots`); otherwise to a temporary directory, so that a test run leaves the tree clean.
 */
const SHOTS =
  process.env.KEYMETER_SCREENSHOTS === '1'
    ? path.resolve(__dirname, '..', '..', 'docs', 'screenshots')
    : mkdtempSync(path.join(tmpdir(), 'keymeter-shots-'));

/** A JSON body of exactly `bytes` bytes (at least 10). */
function bodyOf(bytes: number): string {
  const body = JSON.stringify({ pad: 'x'.repeat(bytes - 10) });
  expect(Buffer.byteLength(body)).toBe(bytes);
  return body;
}

interface Watch {
  /** Script errors, CSP violations and failed loads; answers with an error status excluded. */
  problems: string[];
  /** Requests to anything but keymeter. */
  foreign: string[];
}

function watch(page: Page, baseUrl: string, seen: Watch): void {
  page.on('pageerror', (error) => seen.problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    const text = message.text();
    // Chromium logs every 4xx answer to fetch(); the page expects some (wrong password, 400s).
    if (message.type() === 'error' && !/status of 4\d\d/.test(text)) seen.problems.push(text);
  });
  page.on('requestfailed', (request) => {
    seen.problems.push(`failed: ${request.url()} ${request.failure()?.errorText ?? ''}`);
  });
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(`${baseUrl}/`) && !url.startsWith('data:')) seen.foreign.push(url);
  });
}

/** The row of the key list whose name is exactly `name`. */
function row(page: Page, name: string): Locator {
  return page
    .locator('table.keys tbody tr')
    .filter({ has: page.locator('th', { hasText: new RegExp(`^${escape(name)}(master)?$`) }) });
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

async function manage(page: Page, name: string, item: string): Promise<void> {
  await page.getByRole('button', { name: `Manage key ${name}`, exact: true }).click();
  await page.getByRole('menuitem', { name: item, exact: true }).click();
}

// Code that runs in the page is passed as text: the e2e project compiles without the DOM library.
const UNLABELLED_CONTROLS = `[...document.querySelectorAll('input, select, textarea')]
  .filter((el) => !el.classList.contains('offscreen'))
  .filter((el) => el.labels.length === 0 && !el.getAttribute('aria-label'))
  .map((el) => el.outerHTML)`;
const READ_CLIPBOARD = 'navigator.clipboard.readText()';
const CLEAR_CLIPBOARD = "navigator.clipboard.writeText('')";
const FOCUSED_LABEL = "document.activeElement?.getAttribute('aria-label')";
const HORIZONTAL_OVERFLOW = 'document.documentElement.scrollWidth - window.innerWidth';
const TABLE_OVERFLOW = `document.querySelector('table.keys').getBoundingClientRect().right -
  document.querySelector('main').getBoundingClientRect().right`;

/** Every input and select on the page has an accessible label. */
async function expectLabelledControls(page: Page): Promise<void> {
  expect(await page.evaluate<string[]>(UNLABELLED_CONTROLS)).toEqual([]);
}

describeInBrowser('the dashboard in Chromium', (run) => {
  const email = `owner-${randomBytes(4).toString('hex')}@example.com`;
  const password = 'a long enough passphrase';
  const seen: Watch = { problems: [], foreign: [] };
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    const { browser, baseUrl } = run();
    context = await browser.newContext({
      baseURL: baseUrl,
      viewport: { width: 1280, height: 800 },
      locale: 'en-US',
      timezoneId: 'UTC',
    });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: baseUrl });
    context.setDefaultTimeout(10_000);
    page = await context.newPage();
    watch(page, baseUrl, seen);
  });

  afterAll(async () => {
    await context?.close();
  });

  it('walks a new user from sign-up to a deactivated key that is refused', async () => {
    const { testApp } = run();
    await page.goto('/');
    await page.getByRole('heading', { name: 'Sign in to keymeter' }).waitFor();
    await expectLabelledControls(page);

    // Sign up.
    await page.getByRole('button', { name: 'Create an account' }).click();
    await page.getByLabel('Email', { exact: true }).fill(email);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'API keys' }).waitFor();
    await row(page, 'master').waitFor();
    expect(await page.locator('.who').textContent()).toBe(email);

    // Create a key: shown in full once, with a copy button.
    await page.getByRole('button', { name: 'Create key' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name', { exact: true }).fill('mobile app');
    await dialog.getByRole('button', { name: 'Create key' }).click();
    const keyField = dialog.getByLabel('API key', { exact: true });
    await keyField.waitFor();
    const key = await keyField.inputValue();
    expect(key).toMatch(KEY_SHAPE);
    await dialog.getByRole('button', { name: 'Copy key' }).click();
    await dialog.getByText('Copied to the clipboard.').waitFor();
    expect(await page.evaluate<string>(READ_CLIPBOARD)).toBe(key);
    await dialog.getByRole('button', { name: 'Done' }).click();
    await dialog.waitFor({ state: 'detached' });
    const listed = row(page, 'mobile app');
    await listed.waitFor();
    expect(await listed.locator('code').textContent()).not.toContain(key.slice(7));
    expect(await listed.locator('td[data-label="Status"]').textContent()).toBe('Active');
    expect(await listed.locator('td[data-label="Last used"]').textContent()).toBe('Never');

    // Reveal and copy it again from the Manage menu.
    await manage(page, 'mobile app', 'Reveal key');
    expect(await row(page, 'mobile app').locator('code').textContent()).toBe(key);
    await page.evaluate(CLEAR_CLIPBOARD);
    await manage(page, 'mobile app', 'Copy key');
    await page.getByRole('status').filter({ hasText: 'copied' }).waitFor();
    expect(await page.evaluate<string>(READ_CLIPBOARD)).toBe(key);
    await manage(page, 'mobile app', 'Hide key');

    // Requests with the key, from outside the browser, with bodies of known sizes.
    const multiByte = JSON.stringify({ note: 'é€'.repeat(40) });
    const bodies = [bodyOf(100), bodyOf(2500), multiByte, undefined];
    let bytes = 0;
    for (const body of bodies) {
      const req = testApp.http.get('/1.0/me').set('x-api-key', key);
      if (body !== undefined) {
        bytes += Buffer.byteLength(body);
        await req.set('Content-Type', 'application/json').send(body).expect(200);
      } else {
        await req.expect(200);
      }
    }
    expect(bytes).toBe(100 + 2500 + Buffer.byteLength(multiByte));

    await page.getByRole('button', { name: 'Refresh' }).click();
    await row(page, 'mobile app').locator('td[data-label="Requests"]', { hasText: '4' }).waitFor();

    // Show usage: the last 30 days by day, and exactly those requests and bytes in the totals.
    await manage(page, 'mobile app', 'Show usage');
    await page.getByRole('heading', { name: 'Usage of “mobile app”' }).waitFor();
    const today = Date.now();
    expect(await page.getByLabel('From', { exact: true }).inputValue()).toBe(
      utcDay(today - 29 * DAY),
    );
    expect(await page.getByLabel('To', { exact: true }).inputValue()).toBe(utcDay(today));
    expect(await page.getByLabel('Interval', { exact: true }).inputValue()).toBe('day');
    const requests = page.locator('[data-total="requests"]');
    const volume = page.locator('[data-total="volume"]');
    await page.locator('[data-total="requests"][data-value]').waitFor();
    expect(await requests.getAttribute('data-value')).toBe('4');
    expect(await requests.textContent()).toBe('4');
    expect(await volume.getAttribute('data-value')).toBe(String(bytes));
    expect(await volume.textContent()).toContain(`(${bytes.toLocaleString('en-US')} bytes)`);
    expect(await volume.textContent()).toContain(`${bytes / 1e9} GB`);
    expect(await page.locator('.chart canvas').count()).toBeGreaterThan(0);
    expect(await page.locator('.chart').getAttribute('aria-label')).toContain('4 requests');
    await expectLabelledControls(page);

    // Hourly: the same totals, 30 × 24 buckets.
    await page.getByLabel('Interval', { exact: true }).selectOption('hour');
    await page.getByRole('button', { name: 'Show usage' }).click();
    await page.getByText(/per hour, 720 buckets/).waitFor();
    expect(await requests.getAttribute('data-value')).toBe('4');
    expect(await volume.getAttribute('data-value')).toBe(String(bytes));
    expect(page.url()).toContain('interval=hour');

    // Rename.
    await page.getByRole('link', { name: '← API keys' }).click();
    await manage(page, 'mobile app', 'Rename');
    await page.getByRole('dialog').getByLabel('New name', { exact: true }).fill('mobile app (iOS)');
    await page.getByRole('dialog').getByRole('button', { name: 'Save' }).click();
    await row(page, 'mobile app (iOS)').waitFor();
    expect(await row(page, 'mobile app').count()).toBe(0);
    const me = await testApp.http.get('/1.0/me').set('x-api-key', key).expect(200);
    expect(me.body.key.name).toBe('mobile app (iOS)');

    // Deactivate: the key is refused from then on.
    await manage(page, 'mobile app (iOS)', 'Deactivate');
    await row(page, 'mobile app (iOS)')
      .locator('td[data-label="Status"]', { hasText: 'Inactive' })
      .waitFor();
    const refused = await testApp.http.get('/1.0/me').set('x-api-key', key).expect(401);
    expect(refused.body.message).toBe('the API key is deactivated');

    // And back.
    await manage(page, 'mobile app (iOS)', 'Activate');
    await row(page, 'mobile app (iOS)')
      .locator('td[data-label="Status"]', { hasText: 'Active' })
      .waitFor();
    await testApp.http.get('/1.0/me').set('x-api-key', key).expect(200);
  });

  it('shows the API’s message for an invalid range', async () => {
    await page.goto('/#/');
    await manage(page, 'mobile app (iOS)', 'Show usage');
    await page.locator('[data-total="requests"][data-value]').waitFor();

    await page.getByLabel('From', { exact: true }).fill('2026-01-10');
    await page.getByLabel('To', { exact: true }).fill('2026-01-01');
    await page.getByRole('button', { name: 'Show usage' }).click();
    const alert = page.locator('.usage > [role="alert"]');
    await alert.getByText('from must be before to').waitFor();
    expect(await page.locator('[data-total="requests"]').textContent()).toBe('–');

    await page.getByLabel('From', { exact: true }).fill('2025-09-01');
    await page.getByRole('button', { name: 'Show usage' }).click();
    await alert.getByText(/the range may span at most 92 days/).waitFor();

    await page.getByLabel('From', { exact: true }).fill('2025-12-01');
    await page.getByRole('button', { name: 'Show usage' }).click();
    await page.locator('[data-total="requests"]', { hasText: '0' }).waitFor();
    expect(await alert.isHidden()).toBe(true);
  });

  it('deletes a key only after a confirmation', async () => {
    await page.goto('/#/');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByRole('dialog').getByLabel('Name', { exact: true }).fill('temporary');
    await page.getByRole('dialog').getByRole('button', { name: 'Create key' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Done' }).click();
    await row(page, 'temporary').waitFor();

    await manage(page, 'temporary', 'Delete');
    const confirm = page.getByRole('dialog', { name: 'Delete “temporary”?' });
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'detached' });
    expect(await row(page, 'temporary').count()).toBe(1);

    await manage(page, 'temporary', 'Delete');
    await confirm.getByRole('button', { name: 'Delete key' }).click();
    // The list is rebuilt after a delete: the old rows go at once, the new ones come with the
    // reload, so wait for a key that stays before checking that the deleted one is gone.
    await row(page, 'temporary').waitFor({ state: 'detached' });
    await row(page, 'mobile app (iOS)').waitFor();
    expect(await row(page, 'temporary').count()).toBe(0);
  });

  it('is usable with the keyboard alone', async () => {
    await page.goto('/#/');
    const button = page.getByRole('button', { name: 'Manage key mobile app (iOS)' });
    await button.focus();
    await page.keyboard.press('Enter');
    const focusedItem = () => page.locator(':focus').textContent();
    expect(await focusedItem()).toBe('Show usage');
    await page.keyboard.press('ArrowDown');
    expect(await focusedItem()).toBe('Rename');
    await page.keyboard.press('End');
    expect(await focusedItem()).toBe('Delete');
    await page.keyboard.press('ArrowDown');
    expect(await focusedItem()).toBe('Show usage');
    await page.keyboard.press('Escape');
    expect(await button.getAttribute('aria-expanded')).toBe('false');
    expect(await page.evaluate<string>(FOCUSED_LABEL)).toBe('Manage key mobile app (iOS)');

    // Rename through the menu and the dialog without a mouse; focus comes back to the key.
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await page.getByRole('dialog').waitFor();
    await page.keyboard.type('iPhone app');
    await page.keyboard.press('Enter');
    await row(page, 'iPhone app').waitFor();
    await page.waitForFunction(`${FOCUSED_LABEL} === 'Manage key iPhone app'`);

    // Escape closes a dialog.
    await page.getByRole('button', { name: 'Create key' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('dialog').waitFor();
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'detached' });
  });

  it('fits a phone-sized screen', async () => {
    const { browser, baseUrl } = run();
    const phone = await phoneContext(browser, baseUrl, { deviceScaleFactor: 2 });
    try {
      const small = await phone.newPage();
      watch(small, baseUrl, seen);
      await signIn(small, email, password);
      await row(small, 'iPhone app').waitFor();
      const overflow = () => small.evaluate<number>(HORIZONTAL_OVERFLOW);
      expect(await overflow()).toBeLessThanOrEqual(0);
      await small.getByRole('button', { name: 'Manage key iPhone app' }).tap();
      const menu = small.getByRole('menu');
      const box = await menu.boundingBox();
      expect(box).not.toBeNull();
      expect(box!.x).toBeGreaterThanOrEqual(0);
      expect(box!.x + box!.width).toBeLessThanOrEqual(390);
      await small.screenshot({ path: path.join(SHOTS, 'keys-phone.png') });
      await small.getByRole('menuitem', { name: 'Show usage' }).tap();
      await small.locator('[data-total="requests"][data-value]').waitFor();
      expect(await overflow()).toBeLessThanOrEqual(0);
      const chart = await small.locator('.chart canvas').first().boundingBox();
      expect(chart!.width).toBeLessThanOrEqual(390);
      await small.screenshot({ path: path.join(SHOTS, 'usage-phone.png'), fullPage: true });
    } finally {
      await phone.close();
    }
  });

  it('sends the user back to sign-in when the session has expired, without a password prompt', async () => {
    const { testApp } = run();
    await page.goto('/#/');
    await row(page, 'iPhone app').waitFor();
    await testApp.app
      .get(PrismaService)
      .db.session.updateMany({ data: { expiresAt: new Date(Date.now() - 1000) } });

    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.getByText('Your session has ended. Sign in again to continue.').waitFor();
    await page.getByLabel('Email', { exact: true }).fill(email);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await row(page, 'iPhone app').waitFor();
  });

  it('signs out, after which the session is refused', async () => {
    const { testApp } = run();
    await page.goto('/#/');
    await row(page, 'iPhone app').waitFor();
    const [held] = await context.cookies();
    expect(held).toMatchObject({
      name: 'keymeter_session',
      httpOnly: true,
      sameSite: 'Strict',
      path: '/',
      secure: false,
    });

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You have signed out.').waitFor();
    expect(await context.cookies()).toEqual([]);
    await testApp.http.get('/1.0/keys').set('Cookie', `${held.name}=${held.value}`).expect(401);

    // A wrong password is reported on the page, not in a browser password prompt.
    await page.getByLabel('Email', { exact: true }).fill(email);
    await page.getByLabel('Password', { exact: true }).fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').getByText('wrong email or password').waitFor();
  });

  it('takes the screenshots of the key list and the usage view', async () => {
    const { browser, baseUrl, testApp } = run();
    mkdirSync(SHOTS, { recursive: true });
    const shots = await browser.newContext({
      baseURL: baseUrl,
      viewport: { width: 1280, height: 860 },
      locale: 'en-US',
      timezoneId: 'UTC',
    });
    shots.setDefaultTimeout(10_000);
    try {
      const shot = await shots.newPage();
      watch(shot, baseUrl, seen);
      await shot.goto('/');
      await shot.getByRole('button', { name: 'Create an account' }).click();
      await shot.getByLabel('Email', { exact: true }).fill('ops@acme.example');
      await shot.getByLabel('Password', { exact: true }).fill(password);
      await shot.getByRole('button', { name: 'Create account' }).click();
      await row(shot, 'master').waitFor();

      // A month of plausible traffic on a few keys, written through the real metering path.
      const names = ['web app', 'iOS app', 'partner sync', 'legacy batch job'];
      const ids: string[] = [];
      for (const name of names) {
        await shot.getByRole('button', { name: 'Create key' }).click();
        await shot.getByRole('dialog').getByLabel('Name', { exact: true }).fill(name);
        await shot.getByRole('dialog').getByRole('button', { name: 'Create key' }).click();
        await shot.getByRole('dialog').getByRole('button', { name: 'Done' }).click();
        await row(shot, name).waitFor();
        ids.push((await row(shot, name).getAttribute('data-key-id')) as string);
      }
      const now = Date.now();
      for (const [k, id] of ids.entries()) {
        const uses: [string, number][] = [];
        for (let d = 29; d >= 0; d--) {
          const day = Math.floor((now - d * DAY) / DAY) * DAY;
          const weekday = new Date(day).getUTCDay();
          const busy = weekday === 0 || weekday === 6 ? 0.45 : 1;
          const base = [60, 35, 12, 6][k];
          const count = Math.round(
            base * busy * (1 + 0.35 * Math.sin(d / 2.3 + k)) * (1 + (29 - d) / 40),
          );
          for (let i = 0; i < count; i++) {
            const at = Math.min(day + ((i * 7919) % 1440) * 60_000, now - 1000);
            uses.push([new Date(at).toISOString(), 20_000 + ((i * 104_729 + d * 31) % 60_000)]);
          }
        }
        await injectUsage(testApp.app, id, uses);
      }
      await manage(shot, 'legacy batch job', 'Deactivate');
      await row(shot, 'legacy batch job').locator('td', { hasText: 'Inactive' }).waitFor();
      await shot.getByRole('button', { name: 'Refresh' }).click();
      await row(shot, 'web app')
        .locator('td[data-label="Requests"]', { hasText: /\d{3}/ })
        .waitFor();
      await shot.mouse.move(0, 0);
      await shot.locator('.toast').waitFor({ state: 'hidden' });
      expect(await shot.evaluate<number>(TABLE_OVERFLOW)).toBeLessThanOrEqual(0);
      expect(await shot.evaluate<number>(HORIZONTAL_OVERFLOW)).toBeLessThanOrEqual(0);
      await shot.screenshot({ path: path.join(SHOTS, 'keys.png') });

      await manage(shot, 'web app', 'Show usage');
      await shot.locator('[data-total="requests"][data-value]').waitFor();
      const canvas = shot.locator('.chart canvas').first();
      const box = (await canvas.boundingBox())!;
      await shot.mouse.move(box.x + box.width * 0.72, box.y + box.height * 0.5);
      await shot.screenshot({ path: path.join(SHOTS, 'usage.png'), fullPage: true });
    } finally {
      await shots.close();
    }
  });

  it('loads nothing from elsewhere and breaks no CSP rule', () => {
    expect(seen.foreign).toEqual([]);
    expect(seen.problems).toEqual([]);
  });
});
