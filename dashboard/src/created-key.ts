import type { Session } from './api';
import { copyText } from './clipboard';
import { h, uid } from './dom';

/**
 * Turns a dialog into one that shows a new key in full, this once, with a copy button: after
 * "Create key" and after "Roll key". `note` says what became of a key it replaced.
 */
export function showCreatedKey(
  dialog: HTMLDialogElement,
  created: { name: string; key: string },
  session: Session,
  close: () => void,
  options: { title?: string; note?: string } = {},
): void {
  const fieldId = uid('new-key');
  const field = h('input', {
    id: fieldId,
    class: 'key-field',
    readonly: true,
    value: created.key,
    spellcheck: 'false',
    onfocus: (event: Event) => (event.target as HTMLInputElement).select(),
  });
  const copied = h('p', { class: 'hint', role: 'status' });
  const copy = h(
    'button',
    {
      type: 'button',
      class: 'primary',
      onclick: async () => {
        const ok = await copyText(created.key);
        copied.textContent = ok
          ? 'Copied to the clipboard.'
          : 'Copying failed: select the key and copy it.';
      },
    },
    'Copy key',
  );
  const title = dialog.querySelector('h2');
  if (title) title.textContent = options.title ?? `Key “${created.name}” created`;
  dialog
    .querySelector('form')
    ?.replaceWith(
      h(
        'div',
        { class: 'stack' },
        h(
          'p',
          {},
          session.keysRecoverable
            ? 'Here is the new key. Copy it now; you can also reveal it later from its Manage menu.'
            : 'Here is the new key. Copy it now: it will not be shown again.',
        ),
        h('label', { for: fieldId }, 'API key'),
        h('div', { class: 'copy-row' }, field, copy),
        copied,
        options.note ? h('p', { class: 'notice' }, options.note) : null,
        h(
          'div',
          { class: 'dialog-actions' },
          h('button', { type: 'button', onclick: close }, 'Done'),
        ),
      ),
    );
  copy.focus();
}
