import { Attrs, Child, h, replace, uid } from './dom';
import { isSessionEnd, messageOf } from './errors';
import type { ViewContext } from './keys-view';

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

/**
 * A form's submit handler: the error slot is cleared and the submit button disabled while
 * `action` runs. When it fails, the error's message shows and the button is enabled again, then
 * `failed` runs (to put focus back on the field to fix); with `sessionEnded`, an answer that says
 * the session is gone goes there instead.
 */
export function submitHandler(form: {
  error: HTMLElement;
  submit: HTMLButtonElement;
  action: () => Promise<void>;
  failed?: () => void;
  sessionEnded?: () => void;
}): (event: Event) => Promise<void> {
  return async (event) => {
    event.preventDefault();
    showError(form.error, null);
    form.submit.disabled = true;
    try {
      await form.action();
    } catch (err) {
      if (form.sessionEnded && isSessionEnd(err)) return form.sessionEnded();
      showError(form.error, messageOf(err));
      form.submit.disabled = false;
      form.failed?.();
    }
  };
}

/**
 * A dialog's form: `content`, the error slot, then Cancel and the submit button, submitted by
 * `submitHandler`. The dialog stays open unless `action` closes it (or replaces the form).
 */
export function dialogForm(options: {
  ctx: ViewContext;
  close: () => void;
  /** The submit button's text. */
  submit: string;
  content: (Child | Child[])[];
  action: () => Promise<void>;
  failed?: () => void;
  /** The form's attributes: a stack of fields unless said otherwise. */
  attrs?: Attrs;
  /** Cancel has the focus when the dialog opens: one that asks rather than one to fill in. */
  cancelFocused?: boolean;
}): HTMLFormElement {
  const { ctx, close } = options;
  const error = errorSlot();
  const submit = h('button', { type: 'submit', class: 'primary' }, options.submit);
  const onsubmit = submitHandler({
    error,
    submit,
    action: options.action,
    failed: options.failed,
    sessionEnded: () => ctx.sessionEnded(),
  });
  return h(
    'form',
    { ...(options.attrs ?? { class: 'stack' }), onsubmit },
    ...options.content,
    error,
    h(
      'div',
      { class: 'dialog-actions' },
      h('button', { type: 'button', onclick: close, autofocus: options.cancelFocused }, 'Cancel'),
      submit,
    ),
  );
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
