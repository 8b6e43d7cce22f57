import { copyText } from './clipboard';
import { h, uid } from './dom';

/**
 * Turns a dialog into one that shows a secret in full, this once, with a copy button, then Done:
 * a new key (created or rolled) or a webhook's signing secret.
 */
export function showOnce(
  dialog: HTMLDialogElement,
  close: () => void,
  shown: {
    title: string;
    /** The secret itself. */
    value: string;
    /** What it is in a word ("key", "secret"): "Copy key". */
    noun: string;
    /** The read-only field's label. */
    label: string;
    /** The first paragraph: what it is and whether it will be shown again. */
    lead: string;
    /** A notice under the field, e.g. what became of the secret it replaced. */
    note?: string;
    /** A hint under that, on how to use it. */
    hint?: string;
  },
): void {
  const fieldId = uid(`new-${shown.noun}`);
  const field = h('input', {
    id: fieldId,
    class: 'key-field',
    readonly: true,
    value: shown.value,
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
        const ok = await copyText(shown.value);
        copied.textContent = ok
          ? 'Copied to the clipboard.'
          : `Copying failed: select the ${shown.noun} and copy it.`;
      },
    },
    `Copy ${shown.noun}`,
  );
  const title = dialog.querySelector('h2');
  if (title) title.textContent = shown.title;
  dialog
    .querySelector('form')
    ?.replaceWith(
      h(
        'div',
        { class: 'stack' },
        h('p', {}, shown.lead),
        h('label', { for: fieldId }, shown.label),
        h('div', { class: 'copy-row' }, field, copy),
        copied,
        shown.note ? h('p', { class: 'notice' }, shown.note) : null,
        shown.hint ? h('p', { class: 'hint' }, shown.hint) : null,
        h(
          'div',
          { class: 'dialog-actions' },
          h('button', { type: 'button', onclick: close }, 'Done'),
        ),
      ),
    );
  copy.focus();
}
