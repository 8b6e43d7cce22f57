import type { BrowserContext, Locator, Page } from 'playwright-core';
import { UsageMeter } from '../../src/usage/usage-meter.service';
import { describeInBrowser, desktopPage, phoneContext, signIn } from '../helpers/browser';
import { account, basic, TestAccount } from '../helpers/factory';
import { createKey, CreatedKey } from '../helpers/optidash-fixtures';

// Code that runs in the page is passed as text: the e2e project compiles without the DOM library.
const HORIZONTAL_OVERFLOW = 'document.documentElement.scrollWidth - window.innerWidth';
const TABLE_OVERFLOW = `document.querySelector('main table').getBoundingClientRect().right -
  document.querySelector('main').getBoundingClientRect().right`;

/** The first instant of next month, UTC: when a monthly quota resets. */
function nextMonth(): string {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString();
}

const limitsCell = (page: Page, keyId: string) =>
  page.locator(`tr[data-key-id="${keyId}"] td[data-label="Limits"]`);

/** The cell's text with its parts apart, as a reader would take them in. */
async function cellText(cell: Locator): Promise<string> {
  return (await cell.innerText()).replace(/\s+/g, ' ').trim();
}

async function manage(page: Page, name: string, item: string): Promise<void> {
  await page.getByRole('button', { name: `Manage key ${name}`, exact: true }).click();
  await page.getByRole('menuitem', { name: item, exact: true }).click();
}

describeInBrowser('rate limits and quotas in the dashboard', (run) => {
  const problems: string[] = [];
  let owner: TestAccount;
  let context: BrowserContext;
  let page: Page;
  let metered: CreatedKey;
  const master = () => ({ Authorization: basic(owner.masterKey) });

  beforeAll(async () => {
    const { browser, baseUrl, testApp } = run();
    owner = await account(testApp.http);
    metered = await createKey(testApp.http, owner.masterKey, 'metered');
    ({ context, page } = await desktopPage(browser, baseUrl, problems));
    await signIn(page, owner.email, owner.password);
    await limitsCell(page, metered.id).waitFor();
  });

  afterAll(async () => {
    await context?.close();
  });

  async function stored(id: string): Promise<Record<string, unknown>> {
    const { body } = await run().testApp.http.get('/1.0/keys').set(master()).expect(200);
    return (body.keys as { id: string }[]).find((k) => k.id === id) as Record<string, unknown>;
  }

  const dialog = () => page.getByRole('dialog', { name: 'Limits of “metered”' });

  it('sets a rate limit and a quota through the dialog and lists them with the period’s use', async () => {
    expect(await cellText(limitsCell(page, metered.id))).toBe('None');
    await manage(page, 'metered', 'Limits…');
    const form = dialog();
    // Neither limit is set: their fields stay hidden until one is switched on.
    expect(await form.getByLabel('Rate limit', { exact: true }).isChecked()).toBe(false);
    expect(await form.getByLabel('Requests per window', { exact: true }).isVisible()).toBe(false);
    await form.getByText('No rate limit (the account sets no default).').waitFor();
    await form.getByLabel('Rate limit', { exact: true }).check();
    await form.getByLabel('Requests per window', { exact: true }).fill('1000');
    expect(await form.getByLabel('Window (seconds)', { exact: true }).inputValue()).toBe('60');
    await form.getByLabel('Quota', { exact: true }).check();
    await form.getByLabel('Requests per period', { exact: true }).fill('3');
    expect(await form.getByLabel('Period', { exact: true }).inputValue()).toBe('month');
    await form.getByRole('button', { name: 'Save' }).click();
    await form.waitFor({ state: 'detached' });

    const cell = limitsCell(page, metered.id);
    await cell.locator('[data-limit="rate"]').waitFor();
    expect(await cellText(cell.locator('[data-limit="rate"]'))).toBe('1,000 / 60 s');
    expect(await cellText(cell.locator('[data-limit="quota"] .use'))).toBe(
      'quota 0 of 3 this month',
    );
    const bar = cell.locator('.quota-bar');
    expect(await bar.getAttribute('aria-valuenow')).toBe('0');
    expect(await bar.getAttribute('aria-valuetext')).toBe('0 % of the requests quota used');
    const reset = cell.locator('.reset time');
    expect(await reset.getAttribute('datetime')).toBe(nextMonth());
    expect(await cellText(cell.locator('.reset'))).toMatch(
      /^0 % · resets in (\d+ days|\d+ h|\d+ min|less than a minute)$/,
    );
    expect(await stored(metered.id)).toMatchObject({
      rateLimit: { limit: 1000, windowSeconds: 60, source: 'key' },
      quota: { requests: 3, period: 'month', source: 'key', used: { requests: 0 } },
    });
    expect(await page.evaluate<number>(TABLE_OVERFLOW)).toBeLessThanOrEqual(0);
  });

  it('shows the API’s message for a bad value, in the dialog, and changes nothing', async () => {
    await manage(page, 'metered', 'Limits…');
    const form = dialog();
    expect(await form.getByLabel('Requests per window', { exact: true }).inputValue()).toBe('1000');
    expect(await form.getByLabel('Requests per period', { exact: true }).inputValue()).toBe('3');
    await form.getByLabel('Window (seconds)', { exact: true }).fill('100000');
    await form.getByRole('button', { name: 'Save' }).click();
    await form
      .getByRole('alert')
      .getByText('rateLimit.windowSeconds: must be at most 86400 (a day)')
      .waitFor();

    // A quota with neither requests nor volume: the API says what it needs.
    await form.getByLabel('Window (seconds)', { exact: true }).fill('60');
    await form.getByLabel('Requests per period', { exact: true }).fill('');
    await form.getByRole('button', { name: 'Save' }).click();
    await form
      .getByRole('alert')
      .getByText('quota must set requests, volumeBytes or both', { exact: false })
      .waitFor();
    expect(await form.isVisible()).toBe(true);
    await form.getByRole('button', { name: 'Cancel' }).click();
    await form.waitFor({ state: 'detached' });
    expect(await stored(metered.id)).toMatchObject({
      rateLimit: { limit: 1000, windowSeconds: 60 },
      quota: { requests: 3 },
    });
  });

  it('fills the bar to 100 % once the quota is used up, and counts the refused request', async () => {
    const { testApp } = run();
    const as = { Authorization: basic(metered.key) };
    for (let i = 0; i < 3; i++) await testApp.http.get('/1.0/me').set(as).expect(200);
    const over = await testApp.http.get('/1.0/me').set(as).expect(429);
    expect(over.body.code).toBe('USAGE_EXCEEDED');
    await testApp.app.get(UsageMeter).flush();

    await page.getByRole('button', { name: 'Refresh' }).click();
    const cell = limitsCell(page, metered.id);
    await cell.getByText('quota 3 of 3 this month').waitFor();
    const bar = cell.locator('.quota-bar');
    expect(await bar.getAttribute('aria-valuenow')).toBe('100');
    expect(await bar.getAttribute('class')).toBe('quota-bar full');
    expect(await cellText(cell.locator('.percent'))).toBe('100 %');

    await manage(page, 'metered', 'Show usage');
    await page.getByRole('heading', { name: 'Usage of “metered”' }).waitFor();
    const refused = page.locator('dd[data-total="refused"]');
    await refused.and(page.locator('[data-value]')).waitFor();
    expect(await refused.getAttribute('data-value')).toBe('1');
    expect(await page.locator('dd[data-total="requests"]').getAttribute('data-value')).toBe('3');
    expect(
      await page.getByRole('img', { name: /Chart of requests/ }).getAttribute('aria-label'),
    ).toMatch(/3 requests, .*, 1 refused\.$/);
    await page.getByText('Show the numbers per bucket').click();
    expect(await page.locator('table.data thead th').last().textContent()).toBe('Refused');
    await page.getByRole('link', { name: '← API keys' }).click();
    await limitsCell(page, metered.id).waitFor();
  });

  it('sets a volume quota in a unit and shows it back in that unit', async () => {
    await manage(page, 'metered', 'Limits…');
    const form = dialog();
    await form.getByLabel('Requests per period', { exact: true }).fill('');
    await form.getByLabel('Volume per period', { exact: true }).fill('50');
    await form.getByLabel('Unit', { exact: true }).selectOption('GiB');
    await form.getByLabel('Period', { exact: true }).selectOption('day');
    await form.getByRole('button', { name: 'Save' }).click();
    await form.waitFor({ state: 'detached' });
    const cell = limitsCell(page, metered.id);
    await cell.getByText('quota 0 B of 53.7 GB today').waitFor();
    expect(await cell.locator('.quota-bar').getAttribute('data-dimension')).toBe('volume');
    expect(await stored(metered.id)).toMatchObject({
      quota: { volumeBytes: 50 * 2 ** 30, period: 'day', used: { volumeBytes: 0 } },
    });
    expect((await stored(metered.id)).quota).not.toHaveProperty('requests');

    await manage(page, 'metered', 'Limits…');
    expect(await form.getByLabel('Volume per period', { exact: true }).inputValue()).toBe('50');
    expect(await form.getByLabel('Unit', { exact: true }).inputValue()).toBe('GiB');
    await form.getByRole('button', { name: 'Cancel' }).click();
  });

  it('removes each limit: unchecked, it is sent as null', async () => {
    await manage(page, 'metered', 'Limits…');
    const form = dialog();
    await form.getByLabel('Rate limit', { exact: true }).uncheck();
    await form.getByRole('button', { name: 'Save' }).click();
    await form.waitFor({ state: 'detached' });
    const cell = limitsCell(page, metered.id);
    await cell.locator('[data-limit="rate"]').waitFor({ state: 'detached' });
    await cell.locator('[data-limit="quota"]').waitFor();
    expect(await stored(metered.id)).not.toHaveProperty('rateLimit');

    await manage(page, 'metered', 'Limits…');
    await form.getByLabel('Quota', { exact: true }).uncheck();
    await form.getByRole('button', { name: 'Save' }).click();
    await form.waitFor({ state: 'detached' });
    await cell.getByText('None', { exact: true }).waitFor();
    const key = await stored(metered.id);
    expect(key).not.toHaveProperty('rateLimit');
    expect(key).not.toHaveProperty('quota');
  });

  it('sets account defaults, which keys without their own show as such (not the master key)', async () => {
    await page.getByRole('button', { name: 'Account limits…' }).click();
    const form = page.getByRole('dialog', { name: 'Account limits' });
    await form.getByLabel('Rate limit', { exact: true }).check();
    await form.getByLabel('Requests per window', { exact: true }).fill('0');
    await form.getByRole('button', { name: 'Save' }).click();
    await form.getByRole('alert').getByText('rateLimit.limit: must be at least 1').waitFor();
    await form.getByLabel('Requests per window', { exact: true }).fill('20');
    await form.getByLabel('Window (seconds)', { exact: true }).fill('3600');
    await form.getByRole('button', { name: 'Save' }).click();
    await form.waitFor({ state: 'detached' });

    const cell = limitsCell(page, metered.id);
    await cell.getByText('20 / 1 h').waitFor();
    expect(await cellText(cell)).toBe('20 / 1 h account default');
    expect(await cellText(limitsCell(page, owner.masterKeyId))).toBe('None');

    // The key's dialog says what it follows, and leaves its own unset.
    await manage(page, 'metered', 'Limits…');
    const own = dialog();
    expect(await own.getByLabel('Rate limit', { exact: true }).isChecked()).toBe(false);
    await own
      .getByText('the key follows the account default, 20 / 1 h.', { exact: false })
      .waitFor();
    // Switched on, its own starts from the default.
    await own.getByLabel('Rate limit', { exact: true }).check();
    expect(await own.getByLabel('Requests per window', { exact: true }).inputValue()).toBe('20');
    expect(await own.getByLabel('Window (seconds)', { exact: true }).inputValue()).toBe('3600');
    await own.getByRole('button', { name: 'Cancel' }).click();

    await page.getByRole('button', { name: 'Account limits…' }).click();
    expect(await form.getByLabel('Requests per window', { exact: true }).inputValue()).toBe('20');
    await form.getByLabel('Rate limit', { exact: true }).uncheck();
    await form.getByRole('button', { name: 'Save' }).click();
    await form.waitFor({ state: 'detached' });
    await cell.getByText('None', { exact: true }).waitFor();
    const { body } = await run().testApp.http.get('/1.0/limits').set(master()).expect(200);
    expect(body).toEqual({ success: true, rateLimit: null, quota: null });
  });

  it('lists the limit changes in Activity, in words', async () => {
    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Activity' })
      .click();
    await page.getByLabel('Action', { exact: true }).selectOption({ label: 'Key limits changed' });
    const rows = page.locator('table.log tbody tr[data-action="key.limits_changed"]');
    await rows.first().waitFor();
    // Oldest last: the first save set both limits.
    const first = rows.last().locator('td[data-label="Change"]');
    expect(await cellText(first)).toBe(
      'Rate limit: none → changed to 1,000 / 60 s Quota: none → changed to 3 requests per month (UTC)',
    );
    await page
      .getByLabel('Action', { exact: true })
      .selectOption({ label: 'Account limits changed' });
    const account = page.locator('table.log tbody tr[data-action="account.limits_changed"]');
    await account.first().waitFor();
    expect(await account.count()).toBe(2);
    expect(await cellText(account.last().locator('td[data-label="Change"]'))).toBe(
      'Rate limit: none → changed to 20 / 1 h',
    );
    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'API keys' })
      .click();
    await limitsCell(page, metered.id).waitFor();
  });

  it('fits a phone-sized screen with limits shown', async () => {
    const { browser, baseUrl, testApp } = run();
    await testApp.http
      .patch(`/1.0/keys/${metered.id}`)
      .set(master())
      .send({
        rateLimit: { limit: 100_000, windowSeconds: 86_400 },
        quota: { requests: 1_000_000_000, volumeBytes: 2 ** 50, period: 'month' },
      })
      .expect(200);
    const phone = await phoneContext(browser, baseUrl);
    try {
      const small = await phone.newPage();
      await signIn(small, owner.email, owner.password);
      await limitsCell(small, metered.id).locator('.quota-bar').waitFor();
      expect(await small.evaluate<number>(HORIZONTAL_OVERFLOW)).toBeLessThanOrEqual(0);
    } finally {
      await phone.close();
    }
  });

  it('breaks no script', () => {
    expect(problems).toEqual([]);
  });
});
