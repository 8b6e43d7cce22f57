import { ApiKey, createKey, deleteKey, KeyPage, listKeyPage, Session, updateKey } from './api';
import { copyText } from './clipboard';
import { showCreatedKey } from './created-key';
import { dialogForm, errorSlot, openDialog, showError } from './dialog';
import { Attrs, field, h, hint, replace, uid } from './dom';
import { isSessionEnd, messageOf } from './errors';
import { expiryField, fillStatus, keepExpiriesCurrent } from './expiry';
import { formatBytes, formatInstant, formatInt, isFullKey, maskKey } from './format';
import { rollDialog, setExpiryDialog } from './key-lifecycle';
import { limitsCell } from './limits';
import { accountLimitsDialog, limitsDialog } from './limits-dialog';
import { MenuItem } from './menu';
import { confirmDelete, focusManage, manageCell, runAction } from './row-menu';
import { announce } from './status';

export interface ViewContext {
  session: Session;
  /** Called when an answer says the session is gone (401): back to the sign-in page. */
  sessionEnded: () => void;
}

/** Keys whose full value the user asked to see; forgotten on reload. */
const revealed = new Set<string>();

/** Keys per page: an account may hold 10,000, and a table of them all would crawl. */
export const KEYS_PER_PAGE = 100;

/**
 * Where each page seen so far begins (null: the first), and the one shown. A refresh, a new
 * key or a deletion reloads the page shown.
 */
const paging = { account: '', starts: [null] as (string | null)[], index: 0 };

/** Moves to the page `by` away (+1 next, -1 previous) and shows it. */
function turnPage(main: HTMLElement, ctx: ViewContext, by: 1 | -1, next: string | null): void {
  if (by === 1 && next !== null) {
    paging.starts[paging.index + 1] = next;
    paging.index++;
  } else if (by === -1 && paging.index > 0) {
    paging.index--;
  }
  void renderKeys(main, ctx);
}

/** Counts renders: one that a newer render overtook drops its answer. */
let renders = 0;

/** The "API Keys" view: the account's keys, a create button, and a Manage menu per key. */
export async function renderKeys(main: HTMLElement, ctx: ViewContext, focusKeyId?: string) {
  const render = ++renders;
  if (paging.account !== ctx.session.account.id) {
    Object.assign(paging, { account: ctx.session.account.id, starts: [null], index: 0 });
  }
  const tbody = h('tbody', {});
  const createButton = h(
    'button',
    { type: 'button', class: 'primary', onclick: () => createKeyDialog(main, ctx) },
    'Create key',
  );
  const refresh = h(
    'button',
    { type: 'button', onclick: () => void renderKeys(main, ctx) },
    'Refresh',
  );
  const defaults = h(
    'button',
    {
      type: 'button',
      onclick: () => void accountLimitsDialog(ctx, () => renderKeys(main, ctx)),
    },
    'Account limits…',
  );
  const error = errorSlot();
  const pager = h('nav', { class: 'pager', hidden: true });
  replace(
    main,
    h(
      'section',
      { 'aria-labelledby': 'keys-title' },
      h(
        'div',
        { class: 'section-head' },
        h('h1', { id: 'keys-title', tabindex: -1 }, 'API keys'),
        h('div', { class: 'actions' }, refresh, defaults, createButton),
      ),
      h(
        'p',
        { class: 'muted' },
        'Clients send a key as ',
        h('code', {}, 'x-api-key'),
        ', ',
        h('code', {}, 'Authorization: Bearer'),
        ' or Basic. Every request made with a key is counted with the size of its body.',
      ),
      error,
      h(
        'table',
        { class: 'keys' },
        h('caption', { class: 'visually-hidden' }, 'Your API keys'),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'col' }, 'Name'),
            h('th', { scope: 'col' }, 'Key'),
            h('th', { scope: 'col' }, 'Created'),
            h('th', { scope: 'col' }, 'Last used'),
            h('th', { scope: 'col', class: 'num' }, 'Requests'),
            h('th', { scope: 'col', class: 'num', title: 'Request body bytes received' }, 'Volume'),
            h('th', { scope: 'col', class: 'num', title: 'Response body bytes sent' }, 'Bytes out'),
            h('th', { scope: 'col' }, 'Limits'),
            h('th', { scope: 'col' }, 'Status'),
            h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')),
          ),
        ),
        tbody,
      ),
      pager,
    ),
  );
  replace(tbody, h('tr', {}, h('td', { colspan: 10, class: 'empty' }, 'Loading keys…')));

  let page: KeyPage;
  try {
    page = await listKeyPage(KEYS_PER_PAGE, paging.starts[paging.index]);
    // The page shown emptied (its last keys deleted): show the one before.
    while (page.keys.length === 0 && paging.index > 0 && render === renders) {
      paging.index--;
      page = await listKeyPage(KEYS_PER_PAGE, paging.starts[paging.index]);
    }
    if (render !== renders) return;
  } catch (err) {
    if (render !== renders) return;
    if (isSessionEnd(err)) return ctx.sessionEnded();
    replace(tbody);
    showError(error, messageOf(err));
    return;
  }
  replace(
    tbody,
    page.keys.map((key) => keyRow(key, main, ctx)),
  );
  pager.replaceWith(pagerOf(page, main, ctx));
  keepExpiriesCurrent(tbody);
  if (focusKeyId) focusManage(main, focusKeyId);
}

/** Previous and Next under the table, and which keys are shown; hidden when one page holds all. */
function pagerOf(page: KeyPage, main: HTMLElement, ctx: ViewContext): HTMLElement {
  const first = paging.index * KEYS_PER_PAGE + 1;
  const last = first + page.keys.length - 1;
  const single = paging.index === 0 && page.nextCursor === null;
  return h(
    'nav',
    { class: 'pager', 'aria-label': 'Pages of keys', hidden: single },
    h(
      'button',
      {
        type: 'button',
        disabled: paging.index === 0,
        onclick: () => turnPage(main, ctx, -1, null),
      },
      'Previous',
    ),
    h('span', { class: 'muted', 'aria-live': 'polite' }, `Keys ${first}–${last}`),
    h(
      'button',
      {
        type: 'button',
        disabled: page.nextCursor === null,
        onclick: () => turnPage(main, ctx, 1, page.nextCursor),
      },
      'Next',
    ),
  );
}

function keyRow(key: ApiKey, main: HTMLElement, ctx: ViewContext): HTMLTableRowElement {
  const canReveal = ctx.session.keysRecoverable && isFullKey(key.key);
  const shown = canReveal && revealed.has(key.id) ? key.key : maskKey(key.key);
  const reload = (focus?: string) => renderKeys(main, ctx, focus);

  // A rolled key keeps the end of its grace: the API refuses another expiry or an activation.
  const rolled = key.successorId !== undefined;
  const items: MenuItem[] = [
    { label: 'Show usage', onSelect: () => (location.hash = `#/keys/${key.id}/usage`) },
    { label: 'Rename', onSelect: () => renameDialog(key, ctx, reload) },
  ];
  if (!rolled) {
    items.push({ label: 'Set expiry…', onSelect: () => setExpiryDialog(key, ctx, reload) });
  }
  items.push({ label: 'Limits…', onSelect: () => void limitsDialog(key, ctx, reload) });
  if (canReveal) {
    items.push(
      {
        label: revealed.has(key.id) ? 'Hide key' : 'Reveal key',
        onSelect: () => {
          if (revealed.has(key.id)) revealed.delete(key.id);
          else revealed.add(key.id);
          void reload(key.id);
        },
      },
      {
        label: 'Copy key',
        onSelect: async () => {
          const ok = await copyText(key.key);
          announce(ok ? `Key “${key.name}” copied.` : 'Copying failed; reveal the key instead.');
        },
      },
    );
  }
  if (!key.isMaster) {
    // The master key is not rolled here: the session stands in for it, so it stays put.
    if (!rolled) {
      items.push({ label: 'Roll key…', onSelect: () => rollDialog(key, ctx, reload) });
    }
    if (!rolled || key.isActive) {
      items.push({
        label: key.isActive ? 'Deactivate' : 'Activate',
        onSelect: () =>
          void runAction(ctx, async () => {
            await updateKey(key.id, { isActive: !key.isActive });
            announce(`Key “${key.name}” ${key.isActive ? 'deactivated' : 'activated'}.`);
            await reload(key.id);
          }),
      });
    }
    items.push({ label: 'Delete', danger: true, onSelect: () => deleteDialog(key, ctx, reload) });
  }

  const status = h('td', { 'data-label': 'Status' });
  const row = h(
    'tr',
    { 'data-key-id': key.id },
    h(
      'th',
      { scope: 'row', 'data-label': 'Name', class: 'name' },
      key.name,
      key.isMaster
        ? h(
            'span',
            {
              class: 'badge master',
              title:
                'The account master key: it manages the other keys and cannot be deactivated or deleted.',
            },
            'master',
          )
        : null,
    ),
    h(
      'td',
      { 'data-label': 'Key' },
      h('code', { class: shown === key.key ? 'key revealed' : 'key' }, shown),
    ),
    h('td', { 'data-label': 'Created' }, time(key.createdAt)),
    h('td', { 'data-label': 'Last used' }, time(key.lastUsedAt)),
    h('td', { 'data-label': 'Requests', class: 'num' }, formatInt(key.usageCount)),
    h(
      'td',
      { 'data-label': 'Volume', class: 'num', title: `${formatInt(key.volume)} bytes` },
      formatBytes(key.volume),
    ),
    h(
      'td',
      { 'data-label': 'Bytes out', class: 'num', title: `${formatInt(key.volumeOut)} bytes` },
      formatBytes(key.volumeOut),
    ),
    h('td', { 'data-label': 'Limits' }, limitsCell(key)),
    status,
    manageCell(key.id, `Manage key ${key.name}`, items),
  );
  fillStatus(status, key);
  return row;
}

function time(iso: string | null): HTMLElement {
  if (iso === null) return h('span', { class: 'muted' }, 'Never');
  const { date, time: ofDay } = formatInstant(iso);
  return h('time', { datetime: iso, title: iso }, date, h('span', { class: 'time-of-day' }, ofDay));
}

/** A key's name: the API takes up to 100 characters, unique in the account. */
function nameInput(id: string, attrs: Attrs): HTMLInputElement {
  return h('input', {
    id,
    name: 'name',
    required: true,
    maxlength: 100,
    autocomplete: 'off',
    ...attrs,
  });
}

function createKeyDialog(main: HTMLElement, ctx: ViewContext): void {
  openDialog('Create an API key', (close, dialog) => {
    const nameId = uid('key-name');
    const name = nameInput(nameId, { placeholder: 'e.g. mobile app' });
    const expiry = expiryField(null);
    const form = dialogForm({
      ctx,
      close,
      submit: 'Create key',
      action: async () => {
        const created = await createKey(name.value, expiry.value());
        showCreatedKey(dialog, created, ctx.session, close);
        void renderKeys(main, ctx);
      },
      failed: () => name.focus(),
      content: [
        field(name, 'Name', hint('Unique in your account, up to 100 characters.')),
        expiry.element,
      ],
    });
    return [form];
  });
}

function renameDialog(
  key: ApiKey,
  ctx: ViewContext,
  reload: (focus?: string) => Promise<void>,
): void {
  openDialog(`Rename “${key.name}”`, (close) => {
    const nameId = uid('rename');
    const name = nameInput(nameId, { value: key.name });
    queueMicrotask(() => name.select());
    return [
      dialogForm({
        ctx,
        close,
        submit: 'Save',
        action: async () => {
          const updated = await updateKey(key.id, { name: name.value });
          close();
          announce(`Key “${key.name}” renamed to “${updated.name}”.`);
          await reload(key.id);
        },
        failed: () => name.focus(),
        content: [field(name, 'New name')],
      }),
    ];
  });
}

function deleteDialog(
  key: ApiKey,
  ctx: ViewContext,
  reload: (focus?: string) => Promise<void>,
): void {
  confirmDelete(ctx, {
    title: `Delete “${key.name}”?`,
    message:
      'Requests made with this key will be refused from now on, and its usage history is ' +
      'deleted with it. This cannot be undone. (To stop the key for a while, deactivate it instead.)',
    confirm: 'Delete key',
    remove: () => deleteKey(key.id),
    deleted: `Key “${key.name}” deleted.`,
    reload,
    headingId: 'keys-title',
  });
}
