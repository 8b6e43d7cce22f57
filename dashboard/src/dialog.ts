import { h, replace, uid } from './dom';

/**
 * A modal <dialog>: the browser traps focus inside it, closes it on Escape and gives focus back
 * to what had it before. `body` builds the content and gets a `close` function.
 */
export function openDialog(
  title: string,
  body: (close: () => void, dialog: HTMLDialogElement) => Node[],
): HTMLDialogElement {
  const titleId = uid('dialog-title');
  const dialog = h('dialog', { 'aria-labelledby': titleId, class: 'dialog' });
  const close = () => dialog.close();
  replace(dialog, h('h2', { id: titleId }, title), ...body(close, dialog));
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

/** Shows an error inside a form (announced by screen readers) or clears it with null. */
export function showError(target: HTMLElement, message: string | null): void {
  target.textContent = message ?? '';
  target.hidden = message === null;
}

export function errorSlot(): HTMLParagraphElement {
  return h('p', { class: 'error', role: 'alert', hidden: true });
}

/** Asks for confirmation; runs `onConfirm` only for the confirming button, Cancel is focused. */
export function confirmDialog(options: {
  title: string;
  message: string;
  confirm: string;
  danger?: boolean;
  onConfirm: () => Promise<void>;
}): void {
  openDialog(options.title, (close) => {
    const error = errorSlot();
    const confirmButton = h(
      'button',
      { type: 'submit', class: options.danger ? 'danger' : 'primary' },
      options.confirm,
    );
    const cancel = h('button', { type: 'button', onclick: close, autofocus: true }, 'Cancel');
    const form = h(
      'form',
      {
        method: 'dialog',
        onsubmit: async (event: Event) => {
          event.preventDefault();
          confirmButton.disabled = true;
          try {
            await options.onConfirm();
            close();
          } catch (err) {
            showError(error, err instanceof Error ? err.message : String(err));
            confirmButton.disabled = false;
          }
        },
      },
      h('p', {}, options.message),
      error,
      h('div', { class: 'dialog-actions' }, cancel, confirmButton),
    );
    return [form];
  });
}
