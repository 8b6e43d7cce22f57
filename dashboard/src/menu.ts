import { h, uid } from './dom';

export interface MenuItem {
  label: string;
  onSelect: () => void;
  danger?: boolean;
}

let closeOpenMenu: (() => void) | null = null;

/**
 * A menu button (WAI-ARIA APG "menu button" pattern): Enter, Space or ArrowDown opens it on the
 * first item, ArrowUp on the last; arrows, Home and End move; Escape closes it and returns focus
 * to the button; Tab or a click elsewhere closes it.
 */
export function menuButton(label: string, accessibleName: string, items: MenuItem[]): HTMLElement {
  const menuId = uid('menu');
  const button = h(
    'button',
    {
      type: 'button',
      class: 'menu-button',
      'aria-haspopup': 'menu',
      'aria-expanded': 'false',
      'aria-controls': menuId,
      'aria-label': accessibleName,
    },
    label,
    h('span', { class: 'caret', 'aria-hidden': 'true' }, '▾'),
  );
  const entries = items.map((item) =>
    h(
      'button',
      {
        type: 'button',
        role: 'menuitem',
        tabindex: -1,
        class: item.danger ? 'danger' : null,
        onclick: () => {
          close(false);
          item.onSelect();
        },
      },
      item.label,
    ),
  );
  const menu = h(
    'ul',
    { id: menuId, role: 'menu', class: 'menu', 'aria-label': accessibleName, hidden: true },
    entries.map((entry) => h('li', { role: 'none' }, entry)),
  );

  const onOutside = (event: MouseEvent) => {
    if (!wrapper.contains(event.target as Node)) close(false);
  };

  function open(focusIndex: number): void {
    closeOpenMenu?.();
    menu.hidden = false;
    button.setAttribute('aria-expanded', 'true');
    entries[(focusIndex + entries.length) % entries.length]?.focus();
    document.addEventListener('mousedown', onOutside);
    closeOpenMenu = () => close(false);
  }

  function close(refocus: boolean): void {
    if (menu.hidden) return;
    menu.hidden = true;
    button.setAttribute('aria-expanded', 'false');
    document.removeEventListener('mousedown', onOutside);
    closeOpenMenu = null;
    if (refocus) button.focus();
  }

  button.addEventListener('click', () => (menu.hidden ? open(0) : close(true)));
  button.addEventListener('keydown', (event) => {
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      open(event.key === 'ArrowDown' ? 0 : -1);
    }
  });
  menu.addEventListener('keydown', (event) => {
    const at = entries.indexOf(document.activeElement as HTMLButtonElement);
    const moves: Record<string, number> = {
      ArrowDown: at + 1,
      ArrowUp: at - 1,
      Home: 0,
      End: entries.length - 1,
    };
    if (event.key in moves) {
      event.preventDefault();
      entries[(moves[event.key] + entries.length) % entries.length].focus();
    } else if (event.key === 'Escape') {
      event.preventDefault();
      close(true);
    } else if (event.key === 'Tab') {
      close(false);
    }
  });

  const wrapper = h('div', { class: 'menu-wrapper' }, button, menu);
  return wrapper;
}
