/** A polite live region: short confirmations ("Key renamed") that screen readers announce. */
let region: HTMLElement | null = null;
let timer: number | undefined;

export function mountStatus(el: HTMLElement): void {
  region = el;
}

export function announce(message: string): void {
  if (!region) return;
  region.textContent = message;
  region.hidden = false;
  window.clearTimeout(timer);
  timer = window.setTimeout(() => {
    if (region) region.hidden = true;
  }, 5000);
}
