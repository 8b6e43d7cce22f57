import { confirmDialog } from './dialog';
import { h } from './dom';
import { isSessionEnd, messageOf } from './errors';
import type { ViewContext } from './keys-view';
import { menuButton, MenuItem } from './menu';
import { announce } from './status';

/** A list row's last cell: its Manage menu, marked with the row's id so a reload finds it. */
export function manageCell(
  id: string,
  accessibleName: string,
  items: MenuItem[],
): HTMLTableCellElement {
  return h(
    'td',
    { class: 'row-actions', 'data-manage': id },
    menuButton('Manage', accessibleName, items),
  );
}

/** Puts focus back on a row's Manage button, after a reload redrew the list. */
export function focusManage(container: HTMLElement, id: string): void {
  container.querySelector<HTMLElement>(`[data-manage="${CSS.escape(id)}"] .menu-button`)?.focus();
}

/** Runs an action from a Manage menu; its error is announced. */
export async function runAction(ctx: ViewContext, action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (err) {
    if (isSessionEnd(err)) return ctx.sessionEnded();
    announce(messageOf(err));
  }
}

/**
 * Manage → Delete: asks first; once `remove` is done, announces `deleted`, reloads the list and
 * puts focus on its heading, since the row that had it is gone.
 */
export function confirmDelete(
  ctx: ViewContext,
  options: {
    title: string;
    message: string;
    confirm: string;
    remove: () => Promise<void>;
    deleted: string;
    reload: () => Promise<void>;
    headingId: string;
  },
): void {
  confirmDialog({
    title: options.title,
    message: options.message,
    confirm: options.confirm,
    danger: true,
    onConfirm: async () => {
      try {
        await options.remove();
      } catch (err) {
        if (isSessionEnd(err)) ctx.sessionEnded();
        throw err;
      }
      announce(options.deleted);
      await options.reload();
      document.getElementById(options.headingId)?.focus();
    },
  });
}
