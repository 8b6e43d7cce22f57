import type { BrowserContext, Page } from 'playwright-core';
import { KeysService } from '../../src/keys/keys.service';
import { PrismaService } from '../../src/prisma/prisma.service';
import { describeInBrowser } from '../helpers/browser';
import { account, TestAccount } from '../helpers/factory';

const KEYS = 10_000;
const PER_PAGE = 100;

describeInBrowser(
  'the dashboard with 10,000 keys in one account',
  (run) => {
    let context: BrowserContext;
    let page: Page;
    let owner: TestAccount;

    beforeAll(async () => {
      const { browser, baseUrl, testApp } = run();
      owner = await account(testApp.http);
      // Seeded in bulk through the app's own key records: 9,999 keys and the master key.
      const keys = testApp.app.get(KeysService);
      const records = Array.from({ length: KEYS - 1 }, (_, i) => ({
        ...keys.newKey(`key ${String(i + 1).padStart(5, '0')}`).record,
        accountId: owner.accountId,
        // One millisecond apart, in name order: the listing's order is createdAt, then id.
        createdAt: new Date(Date.now() + i + 1),
      }));
      const db = testApp.app.get(PrismaService).db;
      for (let i = 0; i < records.length; i += 1000) {
        await db.apiKey.createMany({ data: records.slice(i, i + 1000) });
      }
      context = await browser.newContext({ baseURL: baseUrl, locale: 'en-US', timezoneId: 'UTC' });
      context.setDefaultTimeout(15_000);
      page = await context.newPage();
    });

    afterAll(async () => {
      await context?.close();
    });

    const names = () => page.locator('table.keys tbody tr th').allTextContents();

    it('shows the keys a page at a time and walks forward and back', async () => {
      await page.goto('/');
      await page.getByLabel('Email', { exact: true }).fill(owner.email);
      await page.getByLabel('Password', { exact: true }).fill(owner.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      const pager = page.getByRole('navigation', { name: 'Pages of keys' });
      await pager.getByText(`Keys 1–${PER_PAGE}`).waitFor();

      const first = await names();
      expect(first).toHaveLength(PER_PAGE);
      expect(first[0]).toMatch(/^master/);
      expect(first[1]).toBe('key 00001');
      expect(first[PER_PAGE - 1]).toBe('key 00099');
      expect(await pager.getByRole('button', { name: 'Previous' }).isDisabled()).toBe(true);

      await pager.getByRole('button', { name: 'Next' }).click();
      await pager.getByText(`Keys ${PER_PAGE + 1}–${2 * PER_PAGE}`).waitFor();
      const second = await names();
      expect(second).toHaveLength(PER_PAGE);
      expect(second[0]).toBe('key 00100');

      await pager.getByRole('button', { name: 'Previous' }).click();
      await pager.getByText(`Keys 1–${PER_PAGE}`).waitFor();
      expect(await names()).toEqual(first);
    });

    it('reaches the last page, where Next is disabled', async () => {
      const pager = page.getByRole('navigation', { name: 'Pages of keys' });
      for (let p = 1; p < KEYS / PER_PAGE; p++) {
        await pager.getByRole('button', { name: 'Next' }).click();
        await pager.getByText(`Keys ${p * PER_PAGE + 1}–${(p + 1) * PER_PAGE}`).waitFor();
      }
      const last = await names();
      expect(last).toHaveLength(PER_PAGE);
      expect(last[PER_PAGE - 1]).toBe('key 09999');
      expect(await pager.getByRole('button', { name: 'Next' }).isDisabled()).toBe(true);
    });

    it('refuses a key past the account limit with the API’s message', async () => {
      await page.getByRole('button', { name: 'Create key' }).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByLabel('Name', { exact: true }).fill('one too many');
      await dialog.getByRole('button', { name: 'Create key' }).click();
      await dialog.getByText(/the account already holds 10000 keys, the most allowed/).waitFor();
    });
  },
  { env: { MAX_KEYS_PER_ACCOUNT: '10000' } },
);
