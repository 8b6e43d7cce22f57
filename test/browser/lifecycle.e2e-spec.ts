import { readFileSync } from 'node:fs';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { describeInBrowser, desktopPage, phoneContext, signIn } from '../helpers/browser';
import { account, basic, TestAccount } from '../helpers/factory';
import { createKey, KEY_SHAPE } from '../helpers/optidash-fixtures';

const HOUR = 3_600_000;
const DAY = 86_400_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** The UTC text of a datetime-local input, to the minute. */
const utcInput = (ms: number) => new Date(ms).toISOString().slice(0, 16);

// Code that runs in the page is passed as text: the e2e project compiles without the DOM library.
const HORIZONTAL_OVERFLOW = 'document.documentElement.scrollWidth - window.innerWidth';
const TABLE_OVERFLOW = `document.querySelector('main table').getBoundingClientRect().right -
  document.querySelector('main').getBoundingClientRect().right`;

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The rows of the key list whose name is exactly `name` (a rolled key and its successor). */
function row(page: Page, name: string): Locator {
  return page
    .locator('table.keys tbody tr')
    .filter({ has: page.locator('th', { hasText: new RegExp(`^${escape(name)}(master)?$`) }) });
}

const status = (page: Page, keyId: string) =>
  page.locator(`tr[data-key-id="${keyId}"] td[data-label="Status"]`);

async function manage(page: Page, name: string, item: string): Promise<void> {
  await page.getByRole('button', { name: `Manage key ${name}`, exact: true }).click();
  await page.getByRole('menuitem', { name: item, exact: true }).click();
}

/** The labels of a key's Manage menu, which is closed again afterwards. */
async function menuItems(page: Page, keyId: string): Promise<string[]> {
  const button = page.locator(`[data-manage="${keyId}"] .menu-button`);
  await button.click();
  const items = await page.locator(`[data-manage="${keyId}"] [role="menuitem"]`).allTextContents();
  await page.keyboard.press('Escape');
  return items;
}

describeInBrowser('key expiry, rolling and the activity log in the dashboard', (run) => {
  const problems: string[] = [];
  let owner: TestAccount;
  let context: BrowserContext;
  let page: Page;
  const master = () => ({ Authorization: basic(owner.masterKey) });

  beforeAll(async () => {
    const { browser, baseUrl, testApp } = run();
    owner = await account(testApp.http);
    ({ context, page } = await desktopPage(browser, baseUrl, problems, {
      context: { acceptDownloads: true },
    }));
    await signIn(page, owner.email, owner.password);
    await row(page, 'master').waitFor();
  });

  afterAll(async () => {
    await context?.close();
  });

  async function listed(name: string): Promise<{ id: string; expiresAt?: string }[]> {
    const { body } = await run().testApp.http.get('/1.0/keys').set(master()).expect(200);
    return (body.keys as { id: string; name: string; expiresAt?: string }[]).filter(
      (k) => k.name === name,
    );
  }

  it('sets, changes and clears an expiry through the dialog, with the API’s message for a past one', async () => {
    const { testApp } = run();
    const billing = await createKey(testApp.http, owner.masterKey, 'billing');
    await page.getByRole('button', { name: 'Refresh' }).click();
    await row(page, 'billing').waitFor();
    expect(await status(page, billing.id).textContent()).toBe('Active');

    // A preset: seven days from now.
    await manage(page, 'billing', 'Set expiry…');
    const dialog = page.getByRole('dialog', { name: 'Expiry of “billing”' });
    await dialog.getByText('This key never expires.').waitFor();
    await dialog.getByLabel('Expires', { exact: true }).selectOption({ label: 'In 7 days' });
    const before = Date.now();
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.waitFor({ state: 'detached' });
    await status(page, billing.id).getByText('expires in 7 days').waitFor();
    expect(await status(page, billing.id).locator('.badge').textContent()).toBe('Active');
    const [stored] = await listed('billing');
    const at = Date.parse(stored.expiresAt as string);
    expect(at).toBeGreaterThanOrEqual(before + 7 * DAY);
    expect(at).toBeLessThanOrEqual(Date.now() + 7 * DAY);
    const time = status(page, billing.id).locator('time');
    expect(await time.getAttribute('datetime')).toBe(stored.expiresAt);
    expect(await time.getAttribute('title')).toBe(
      `${new Date(at).toISOString().slice(0, 19).replace('T', ' ')} UTC`,
    );

    // A date in the past: the API refuses it and the dialog says why, staying open.
    await manage(page, 'billing', 'Set expiry…');
    await dialog.getByText(/^This key expires in 7 days \(/).waitFor();
    const when = dialog.getByLabel('Date and time (UTC)', { exact: true });
    await dialog.getByLabel('Expires', { exact: true }).selectOption('custom');
    expect(await when.inputValue()).toBe(utcInput(at));
    await when.fill('2001-01-01T00:00');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.getByRole('alert').getByText('expiresAt must be in the future').waitFor();
    expect(await dialog.isVisible()).toBe(true);

    // A date and time of one's own, in UTC.
    const chosen = Math.floor((Date.now() + 3 * DAY + HOUR) / 60_000) * 60_000;
    await when.fill(utcInput(chosen));
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.waitFor({ state: 'detached' });
    await status(page, billing.id).getByText('expires in 3 days').waitFor();
    expect((await listed('billing'))[0].expiresAt).toBe(new Date(chosen).toISOString());

    // Never: the expiry is cleared.
    await manage(page, 'billing', 'Set expiry…');
    await dialog.getByLabel('Expires', { exact: true }).selectOption({ label: 'Never' });
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.waitFor({ state: 'detached' });
    await status(page, billing.id).getByText('expires in', { exact: false }).waitFor({
      state: 'detached',
    });
    expect(await status(page, billing.id).textContent()).toBe('Active');
    expect((await listed('billing'))[0]).not.toHaveProperty('expiresAt');
  });

  it('creates a key with an expiry', async () => {
    await page.getByRole('button', { name: 'Create key' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name', { exact: true }).fill('nightly');
    expect(await dialog.getByLabel('Expires', { exact: true }).inputValue()).toBe('never');
    await dialog.getByLabel('Expires', { exact: true }).selectOption({ label: 'In 24 hours' });
    await dialog.getByRole('button', { name: 'Create key' }).click();
    expect(await dialog.getByLabel('API key', { exact: true }).inputValue()).toMatch(KEY_SHAPE);
    await dialog.getByRole('button', { name: 'Done' }).click();
    const [nightly] = await listed('nightly');
    expect(Date.parse(nightly.expiresAt as string) - Date.now()).toBeGreaterThan(23.9 * HOUR);
    await status(page, nightly.id).getByText('expires in 24 h').waitFor();
  });

  it('shows a key whose expiry has passed as Expired, live and after a reload', async () => {
    const { testApp } = run();
    const expiresAt = new Date(Date.now() + 1500).toISOString();
    const created = await testApp.http
      .post('/1.0/keys')
      .set(master())
      .send({ name: 'short-lived', expiresAt })
      .expect(200);
    const [{ id }] = await listed('short-lived');
    await page.reload();
    await row(page, 'short-lived').waitFor();
    // The page's clock turns it Expired at its instant, without a reload…
    await status(page, id).locator('.badge', { hasText: 'Expired' }).waitFor();
    await sleep(Math.max(0, Date.parse(expiresAt) + 100 - Date.now()));
    // …and so does the list after one.
    await page.reload();
    await row(page, 'short-lived').waitFor();
    expect(await status(page, id).locator('.badge').textContent()).toBe('Expired');
    expect(await status(page, id).textContent()).toMatch(/^Expiredexpired .* ago$/);
    expect(await row(page, 'short-lived').getAttribute('class')).toBe('inactive');
    const refused = await testApp.http
      .get('/1.0/me')
      .set('Authorization', basic(created.body.key as string))
      .expect(401);
    expect(refused.body.code).toBe('EXPIRED');
  });

  it('rolls a key: the new key is shown once, the old one works until the grace ends', async () => {
    const { testApp } = run();
    const old = await createKey(testApp.http, owner.masterKey, 'partner');
    await page.getByRole('button', { name: 'Refresh' }).click();
    await row(page, 'partner').waitFor();
    expect(await menuItems(page, owner.masterKeyId)).not.toContain('Roll key…');

    await manage(page, 'partner', 'Roll key…');
    const dialog = page.getByRole('dialog', { name: 'Roll “partner”' });
    await dialog.getByText(/the old key keeps working until the grace period ends/i).waitFor();
    expect(await dialog.getByLabel('For 24 hours').isChecked()).toBe(true);
    await dialog.getByLabel('For 1 hour').check();
    await dialog.getByRole('button', { name: 'Roll key' }).click();

    const shown = page.getByRole('dialog', { name: 'Key “partner” rolled' });
    const field = shown.getByLabel('API key', { exact: true });
    await field.waitFor();
    const fresh = await field.inputValue();
    expect(fresh).toMatch(KEY_SHAPE);
    expect(fresh).not.toBe(old.key);
    await shown.getByText(/The old key keeps working until .* UTC \(it expires in 1 h\)/).waitFor();
    await shown.getByRole('button', { name: 'Done' }).click();
    await shown.waitFor({ state: 'detached' });

    // Both are listed: the old one replaced and expiring, the new one active; both work.
    await row(page, 'partner').nth(1).waitFor();
    const successor = (await listed('partner')).find((k) => k.id !== old.id)!;
    await status(page, old.id).getByText('replaced; expires in 1 h').waitFor();
    expect(await status(page, successor.id).textContent()).toBe('Active');
    // A rolled key keeps its grace: no second roll, no new expiry; it can still be cut short.
    const oldItems = await menuItems(page, old.id);
    expect(oldItems).not.toContain('Roll key…');
    expect(oldItems).not.toContain('Set expiry…');
    expect(oldItems).toContain('Deactivate');
    await testApp.http.get('/1.0/me').set('Authorization', basic(old.key)).expect(200);
    await testApp.http.get('/1.0/me').set('Authorization', basic(fresh)).expect(200);

    // Rolled again without grace: the key just shown is refused at once.
    await page.locator(`[data-manage="${successor.id}"] .menu-button`).click();
    await page
      .locator(`[data-manage="${successor.id}"]`)
      .getByRole('menuitem', { name: 'Roll key…' })
      .click();
    await dialog.getByLabel('No: refuse it at once').check();
    await dialog.getByRole('button', { name: 'Roll key' }).click();
    await shown.getByText('The old key is refused from now on.').waitFor();
    await shown.getByRole('button', { name: 'Done' }).click();
    await status(page, successor.id).locator('.badge', { hasText: 'Expired' }).waitFor();
    const refused = await testApp.http
      .get('/1.0/me')
      .set('Authorization', basic(fresh))
      .expect(401);
    expect(refused.body.code).toBe('EXPIRED');
    // The longest status ("replaced; expired less than a minute ago") wraps inside the table.
    expect(await page.evaluate<number>(TABLE_OVERFLOW)).toBeLessThanOrEqual(0);
  });

  it('lists what was done in Activity, newest first, and loads older entries', async () => {
    const { testApp } = run();
    // More than a page of entries: 60 renames through the API, older than what follows.
    const churn = await createKey(testApp.http, owner.masterKey, 'churn 0');
    for (let i = 1; i <= 60; i++) {
      await testApp.http
        .patch(`/1.0/keys/${churn.id}`)
        .set(master())
        .send({ name: `churn ${i}` })
        .expect(200);
    }
    await page.getByRole('button', { name: 'Refresh' }).click();
    await manage(page, 'billing', 'Rename');
    await page.getByRole('dialog').getByLabel('New name', { exact: true }).fill('billing v2');
    await page.getByRole('dialog').getByRole('button', { name: 'Save' }).click();
    await row(page, 'billing v2').waitFor();
    await manage(page, 'billing v2', 'Deactivate');
    await row(page, 'billing v2').locator('.badge', { hasText: 'Inactive' }).waitFor();

    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Activity' }).click();
    await page.getByRole('heading', { name: 'Activity', level: 1 }).waitFor();
    expect(await nav.getByRole('link', { name: 'Activity' }).getAttribute('aria-current')).toBe(
      'page',
    );
    const rows = page.locator('table.log tbody tr[data-action]');
    await rows.first().waitFor();
    expect(await rows.count()).toBe(50);

    // Each listing of the keys in full is an entry too (keys.revealed): find ours by action.
    const deactivated = rows.filter({ has: page.locator('td', { hasText: 'Key deactivated' }) });
    const renamed = rows.filter({ has: page.locator('td', { hasText: 'Key renamed' }) });
    const cells = deactivated.first().locator('td');
    expect(await deactivated.first().getAttribute('data-action')).toBe('key.deactivated');
    expect(await cells.nth(2).textContent()).toBe('Dashboard session');
    expect(await cells.nth(3).textContent()).toBe('billing v2');
    expect(await cells.nth(4).textContent()).toMatch(
      /^Status: active\s*→\s*changed to\s*inactive$/,
    );
    expect(await cells.nth(5).textContent()).toMatch(/127\.0\.0\.1/);
    expect(await cells.nth(0).locator('time').getAttribute('datetime')).toMatch(/Z$/);

    const byBrowser = renamed.first().locator('td');
    expect(await byBrowser.nth(2).textContent()).toBe('Dashboard session');
    expect(await byBrowser.nth(3).textContent()).toBe('billing v2');
    expect(await byBrowser.nth(4).textContent()).toMatch(
      /^Name: “billing”\s*→\s*changed to\s*“billing v2”$/,
    );
    const byApi = renamed.nth(1).locator('td');
    expect(await byApi.nth(2).textContent()).toBe('Master key');
    expect(await byApi.nth(3).textContent()).toBe('churn 60');
    expect(await byApi.nth(4).textContent()).toContain('“churn 59”');
    // Newest first: the deactivation above the rename before it, that above the API's renames.
    const idOf = async (l: Locator) => Number(await l.getAttribute('data-entry-id'));
    expect(await idOf(deactivated.first())).toBeGreaterThan(await idOf(renamed.first()));
    expect(await idOf(renamed.first())).toBeGreaterThan(await idOf(renamed.nth(1)));

    // Load more until the oldest: the account's creation, and every entry the API holds.
    const { body } = await testApp.http.get('/1.0/audit?limit=1000').set(master()).expect(200);
    const all = body.entries as { id: number }[];
    expect(all.length).toBeGreaterThan(50);
    await page.getByText('50 entries shown.').waitFor();
    const more = page.getByRole('button', { name: 'Load more' });
    while (await more.isVisible()) {
      const seen = await rows.count();
      await more.click();
      await rows.nth(seen).waitFor();
    }
    expect(await rows.count()).toBe(all.length);
    await page.getByText(`${all.length} entries shown, the oldest last.`).waitFor();
    const ids = await rows.evaluateAll((trs) =>
      trs.map((tr) => Number(tr.getAttribute('data-entry-id'))),
    );
    expect(ids).toEqual(all.map((e) => e.id));
    expect(await rows.last().getAttribute('data-action')).toBe('account.registered');
    expect(await rows.last().locator('td').nth(1).textContent()).toBe('Account created');
  });

  it('filters by action, keeps the filter in the address, and downloads it as CSV', async () => {
    await page.getByLabel('Action', { exact: true }).selectOption({ label: 'Key renamed' });
    await page.waitForURL(/#\/activity\?action=key\.renamed$/);
    const rows = page.locator('table.log tbody tr[data-action]');
    await page.getByText('50 entries shown.').waitFor();
    await page.getByRole('button', { name: 'Load more' }).click();
    await page.getByText('61 entries shown, the oldest last.').waitFor();
    expect(
      new Set(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-action')))),
    ).toEqual(new Set(['key.renamed']));
    expect(await page.getByRole('button', { name: 'Load more' }).isVisible()).toBe(false);

    const link = page.getByRole('link', { name: 'Download CSV' });
    expect(await link.getAttribute('href')).toBe(
      '/1.0/audit?limit=1000&action=key.renamed&format=csv',
    );
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    expect(download.suggestedFilename()).toBe('keymeter-activity-key.renamed.csv');
    const csv = readFileSync((await download.path()) as string, 'utf8')
      .trim()
      .split(/\r?\n/);
    expect(csv[0]).toMatch(/^at,action,/);
    expect(csv).toHaveLength(1 + 61);
    expect(csv.slice(1).every((line) => line.split(',')[1] === 'key.renamed')).toBe(true);

    await page.reload();
    await page.getByText('50 entries shown.').waitFor();
    expect(await page.getByLabel('Action', { exact: true }).inputValue()).toBe('key.renamed');

    await page.getByLabel('Action', { exact: true }).selectOption({ label: 'Key rolled' });
    await page.waitForURL(/action=key\.rolled$/);
    await page.locator('table.log tbody tr[data-action="key.rolled"]').first().waitFor();
  });

  it('fits a phone-sized screen, expiries and activity included', async () => {
    const { browser, baseUrl } = run();
    const phone = await phoneContext(browser, baseUrl);
    try {
      const small = await phone.newPage();
      await signIn(small, owner.email, owner.password);
      await row(small, 'partner').nth(2).waitFor();
      expect(await small.evaluate<number>(HORIZONTAL_OVERFLOW)).toBeLessThanOrEqual(0);
      await small.getByRole('link', { name: 'Activity' }).tap();
      await small.locator('table.log tbody tr[data-action]').first().waitFor();
      expect(await small.evaluate<number>(HORIZONTAL_OVERFLOW)).toBeLessThanOrEqual(0);
    } finally {
      await phone.close();
    }
  });

  it('breaks no script', () => {
    expect(problems).toEqual([]);
  });
});
