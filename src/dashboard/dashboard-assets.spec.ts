import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DashboardAssets } from './dashboard-assets';

describe(DashboardAssets.name, () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'keymeter-dashboard-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function write(file: string, text: string): void {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  }

  it('holds the page and the built files with their content types', () => {
    write('index.html', '<!doctype html>');
    write('assets/app-ABC123.js', 'js');
    write('assets/app-ABC123.css', 'css');
    write('assets/favicon-0a1b2c.svg', '<svg/>');
    const files = new DashboardAssets(dir);

    expect(files.index?.toString()).toBe('<!doctype html>');
    expect(files.asset('app-ABC123.js')).toEqual({
      body: Buffer.from('js'),
      type: 'text/javascript; charset=utf-8',
    });
    expect(files.asset('app-ABC123.css')?.type).toBe('text/css; charset=utf-8');
    expect(files.asset('favicon-0a1b2c.svg')?.type).toBe('image/svg+xml');
  });

  it('serves nothing it did not build: unknown types, dot files, other names', () => {
    write('index.html', 'page');
    write('assets/notes.txt', 'x');
    write('assets/.hidden.js', 'x');
    write('assets/a.b.js', 'x');
    const files = new DashboardAssets(dir);

    for (const name of ['notes.txt', '.hidden.js', 'a.b.js', '../index.html', 'index.html']) {
      expect(files.asset(name)).toBeUndefined();
    }
  });

  it('has no page until one is built, then finds it', () => {
    const files = new DashboardAssets(dir);
    expect(files.index).toBeNull();

    write('index.html', 'built later');
    write('assets/app-X1.js', 'js');

    expect(files.index?.toString()).toBe('built later');
    expect(files.asset('app-X1.js')).toBeDefined();
  });
});
