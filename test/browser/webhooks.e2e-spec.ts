import { createHmac } from 'node:crypto';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { describeInBrowser, desktopPage, phoneContext, signIn } from '../helpers/browser';
import { account, basic, TestAccount } from '../helpers/factory';
import { Received, WebhookReceiver } from '../helpers/webhook-receiver';

// Code that runs in the page is passed as text: the e2e project compiles without the DOM library.
const HORIZONTAL_OVERFLOW = 'document.documentElement.scrollWidth - window.innerWidth';

/**
 * The Standard Webhooks signature, computed here from the secret the page showed: base64
 * HMAC-SHA256 of `${webhook-id}.${webhook-timestamp}.${body}`, keyed by the base64 after whsec_.
 */
function signatureOf(secret: string, received: Received): string {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const mac = createHmac('sha256', key)
    .update(`${received.id}.${received.timestamp}.${received.body}`)
    .digest('base64');
  return `v1,${mac}`;
}

async function text(locator: Locator): Promise<string> {
  return (await locator.innerText()).replace(/\s+/g, ' ').trim();
}

describeInBrowser(
  'webhooks in the dashboard',
  (run) => {
    const problems: string[] = [];
    const receiver = new WebhookReceiver();
    let owner: TestAccount;
    let context: BrowserContext;
    let page: Page;
    let url: string;
    let secret: string;
    const master = () => ({ Authorization: basic(owner.masterKey) });

    beforeAll(async () => {
      await receiver.listen();
      url = receiver.url('/hook');
      owner = await account(run().testApp.http);
      ({ context, page } = await desktopPage(run().browser, run().baseUrl, problems));
      await signIn(page, owner.email, owner.password);
      await page.getByRole('heading', { name: 'API keys', level: 1 }).waitFor();
    });

    afterAll(async () => {
      await context?.close();
      await receiver.close();
    });

    const nav = () => page.getByRole('navigation', { name: 'Main' });
    const row = () => page.locator('table.hooks tbody tr[data-webhook-id]');
    const manage = async (item: string) => {
      await page.getByRole('button', { name: `Manage webhook ${url}`, exact: true }).click();
      await page.getByRole('menuitem', { name: item, exact: true }).click();
    };
    const delivery = (type: string) =>
      page.locator('table.deliveries tbody tr[data-delivery-id]', {
        has: page.locator('td[data-label="Event"] code', { hasText: type }),
      });
    async function stored(): Promise<Record<string, unknown>[]> {
      const { body } = await run().testApp.http.get('/1.0/webhooks').set(master()).expect(200);
      return body.webhooks as Record<string, unknown>[];
    }

    it('adds a webhook, shows the API’s refusal as is, then the signing secret once', async () => {
      await nav().getByRole('link', { name: 'Webhooks' }).click();
      await page.getByRole('heading', { name: 'Webhooks', level: 1 }).waitFor();
      expect(await nav().getByRole('link', { name: 'Webhooks' }).getAttribute('aria-current')).toBe(
        'page',
      );
      await page.getByText('No webhooks yet.', { exact: false }).waitFor();

      await page.getByRole('button', { name: 'Add webhook' }).click();
      const dialog = page.getByRole('dialog', { name: 'Add a webhook' });
      // Every event type the API accepts is offered; the key events are ticked to begin with.
      const boxes = dialog.getByRole('checkbox');
      const offered = await Promise.all(
        (await boxes.all()).map((box) => box.getAttribute('value')),
      );
      expect(offered).toEqual([
        'key.created',
        'key.updated',
        'key.deleted',
        'key.rolled',
        'key.expiring',
        'key.expired',
        'usage.threshold',
        'usage.rate_limited',
      ]);
      expect(await dialog.getByRole('checkbox', { checked: true }).count()).toBe(6);
      const refused = `http://user:pw@127.0.0.1:${receiver.port}/hook`;
      const answer = await run()
        .testApp.http.post('/1.0/webhooks')
        .set(master())
        .send({ url: refused, events: ['key.created'] })
        .expect(400);
      await dialog.getByLabel('URL', { exact: true }).fill(refused);
      await dialog.getByRole('button', { name: 'Add', exact: true }).click();
      await dialog.getByRole('alert').getByText(answer.body.message, { exact: true }).waitFor();
      expect(answer.body.message).toBe('url must not contain credentials');

      await dialog.getByLabel('URL', { exact: true }).fill(url);
      for (const type of [
        'key.updated',
        'key.deleted',
        'key.rolled',
        'key.expiring',
        'key.expired',
      ]) {
        await dialog.getByRole('checkbox', { name: type }).uncheck();
      }
      expect(await dialog.getByRole('checkbox', { name: 'key.created' }).isChecked()).toBe(true);
      await dialog.getByLabel('Description (optional)').fill('the test receiver');
      await dialog.getByRole('button', { name: 'Add', exact: true }).click();

      const shown = page.getByRole('dialog', { name: 'Webhook added' });
      secret = await shown.getByLabel('Signing secret').inputValue();
      expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
      await shown.getByRole('button', { name: 'Copy secret' }).waitFor();
      await shown.getByRole('button', { name: 'Done' }).click();
      await shown.waitFor({ state: 'detached' });

      await row().waitFor();
      expect(await text(row().locator('td[data-label="URL"]'))).toBe(`${url} the test receiver`);
      expect(await text(row().locator('td[data-label="Events"]'))).toBe('key.created');
      expect(await text(row().locator('td[data-label="Status"]'))).toBe('Enabled');
      expect(await text(row().locator('td[data-label="Last delivery"]'))).toBe('None yet');
      // Shown once: the page keeps it nowhere, the API never gives it again.
      expect(await page.content()).not.toContain(secret);
      expect(await stored()).toMatchObject([
        { url, events: ['key.created'], description: 'the test receiver', enabled: true },
      ]);
      expect(JSON.stringify(await stored())).not.toContain('whsec_');
      // Focus is on the new endpoint's menu, where its next step is.
      expect(
        await page.evaluate<string | null>('document.activeElement.getAttribute("aria-label")'),
      ).toBe(`Manage webhook ${url}`);
    });

    it('sends a test event, signed with the shown secret, and lists it delivered', async () => {
      await manage('Send test event');
      await receiver.until((r) => r.some((x) => x.json.type === 'webhook.test'));
      const [test] = receiver.ofType('webhook.test');
      expect(test.signatures).toContain(signatureOf(secret, test));
      expect(test.json.data).toMatchObject({ url });

      // By keyboard: the menu opens on Enter and moves with the arrows.
      await page.getByRole('button', { name: `Manage webhook ${url}`, exact: true }).focus();
      await page.keyboard.press('Enter');
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'Deliveries', level: 1 }).waitFor();
      expect(page.url()).toMatch(/#\/webhooks\/[0-9a-f-]{36}\/deliveries$/);
      const sent = delivery('webhook.test');
      await sent.locator('[data-status="delivered"]').waitFor();
      expect(await sent.getAttribute('data-event-id')).toBe(test.id);
      expect(await text(sent.locator('td[data-label="Attempts"]'))).toBe('1');
      expect(await text(sent.locator('td[data-label="Response"]'))).toBe('200');
      expect(await sent.getByRole('button', { name: /^Retry/ }).count()).toBe(0);
    });

    it('shows a failed attempt and when the next is due, and delivers on Retry', async () => {
      receiver.status = 500;
      await run()
        .testApp.http.post('/1.0/keys')
        .set(master())
        .send({ name: 'announced' })
        .expect((res) => expect(res.status).toBeLessThan(300));
      await receiver.until((r) => r.some((x) => x.json.type === 'key.created'));
      // The worker retries after 5 s (±20 %): the steps up to Retry take less than that.
      receiver.status = 200;
      await page.getByRole('button', { name: 'Refresh' }).click();
      const created = delivery('key.created');
      await created.locator('[data-status="pending"]').waitFor();
      expect(await text(created.locator('td[data-label="Response"]'))).toBe('500');
      expect(await text(created.locator('td[data-label="Attempts"]'))).toBe('1');
      const next = created.locator('td[data-label="Next attempt"] time');
      const dueAt = Date.parse((await next.getAttribute('datetime')) as string);
      expect(dueAt).toBeGreaterThan(Date.now());
      expect(await text(next)).toBe('in less than a minute');

      await created.getByRole('button', { name: /^Retry the key\.created delivery/ }).click();
      await created.locator('[data-status="delivered"]').waitFor();
      expect(await text(created.locator('td[data-label="Response"]'))).toBe('200');
      expect(await text(created.locator('td[data-label="Attempts"]'))).toBe('2');
      expect(await text(created.locator('td[data-label="Next attempt"]'))).toBe('–');
      const attempts = receiver.ofType('key.created');
      expect(attempts.map((a) => a.status)).toEqual([500, 200]);
      // The retry is the same event: receivers de-duplicate by webhook-id.
      expect(attempts[1].id).toBe(attempts[0].id);
      expect(attempts[1].signatures).toContain(signatureOf(secret, attempts[1]));
      expect(dueAt).toBeGreaterThan(attempts[1].at);
      expect(await page.locator('table.deliveries tbody tr').count()).toBe(2);
    });

    it('rotates the secret after asking, shows the new one once, and signs with both', async () => {
      await page.getByRole('link', { name: '← Webhooks' }).click();
      await row().waitFor();
      // The last delivery is fetched after the row is drawn ("…" until it arrives).
      const lastDelivery = row().locator('td[data-label="Last delivery"]');
      await lastDelivery.filter({ hasNotText: '…' }).waitFor();
      expect(await text(lastDelivery)).toBe('delivered HTTP 200');
      await manage('Rotate secret…');
      const ask = page.getByRole('dialog', { name: 'Rotate the signing secret?' });
      await ask.getByRole('button', { name: 'Rotate secret' }).click();
      const shown = page.getByRole('dialog', { name: 'New signing secret' });
      const rotated = await shown.getByLabel('Signing secret').inputValue();
      expect(rotated).toMatch(/^whsec_/);
      expect(rotated).not.toBe(secret);
      expect(await text(shown.locator('.notice'))).toMatch(
        /^The old secret keeps signing for 24 h, until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/,
      );
      await shown.getByRole('button', { name: 'Done' }).click();
      await shown.waitFor({ state: 'detached' });
      await row().locator('td[data-label="Status"]').getByText('old secret signs too').waitFor();
      expect(await page.content()).not.toContain(rotated);

      await manage('Send test event');
      await receiver.until((r) => r.filter((x) => x.json.type === 'webhook.test').length === 2);
      const second = receiver.ofType('webhook.test')[1];
      expect(second.signatures).toContain(signatureOf(rotated, second));
      expect(second.signatures).toContain(signatureOf(secret, second));
    });

    it('fits a phone-sized screen, the list and the deliveries', async () => {
      const phone = await phoneContext(run().browser, run().baseUrl);
      try {
        const small = await phone.newPage();
        await signIn(small, owner.email, owner.password);
        await small.getByRole('link', { name: 'Webhooks' }).tap();
        await small.locator('table.hooks tbody tr[data-webhook-id]').waitFor();
        expect(await small.evaluate<number>(HORIZONTAL_OVERFLOW)).toBeLessThanOrEqual(0);
        await small.getByRole('link', { name: url }).tap();
        await small.locator('table.deliveries tbody tr[data-delivery-id]').first().waitFor();
        expect(await small.evaluate<number>(HORIZONTAL_OVERFLOW)).toBeLessThanOrEqual(0);
      } finally {
        await phone.close();
      }
    });

    it('disables the webhook, then deletes it after asking', async () => {
      await manage('Disable');
      await row().locator('td[data-label="Status"] .badge', { hasText: 'Disabled' }).waitFor();
      expect(await stored()).toMatchObject([{ enabled: false }]);
      // A disabled endpoint gets no test event: the API's reason is announced.
      await manage('Send test event');
      await page
        .getByRole('status')
        .getByText('this endpoint is disabled: enable it first')
        .waitFor();

      await manage('Delete…');
      const ask = page.getByRole('dialog', { name: 'Delete this webhook?' });
      await ask.getByRole('button', { name: 'Delete webhook' }).click();
      await ask.waitFor({ state: 'detached' });
      await page.getByText('No webhooks yet.', { exact: false }).waitFor();
      expect(await stored()).toEqual([]);
    });

    it('breaks no script', () => {
      expect(problems).toEqual([]);
    });
  },
  { env: { WEBHOOK_ALLOW_PRIVATE_URLS: 'true' } },
);
