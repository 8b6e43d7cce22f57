import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** Where scripts/build-dashboard.mjs writes the page (same depth from src/ and dist/). */
export const DASHBOARD_DIST = path.resolve(__dirname, '..', '..', 'dashboard', 'dist');

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

export interface Asset {
  body: Buffer;
  type: string;
}

interface Build {
  index: Buffer;
  assets: Map<string, Asset>;
}

/** Only names the build writes: `name-HASH.ext`, no separators, no dot files. */
const ASSET_NAME = /^[A-Za-z0-9_-]+\.[a-z0-9]+$/;

/**
 * The built page held in memory: index.html and the content-hashed files under assets/. Read
 * once, so a request never touches the file system and no path from a URL ever reaches it.
 * Until a build exists (a server started before `npm run build` finished) it looks again on
 * each request for the page.
 */
export class DashboardAssets {
  private build: Build | null;

  constructor(private readonly dir: string = DASHBOARD_DIST) {
    this.build = this.load();
  }

  /** index.html, or null when the dashboard has not been built. */
  get index(): Buffer | null {
    this.build ??= this.load();
    return this.build?.index ?? null;
  }

  asset(name: string): Asset | undefined {
    return this.build?.assets.get(name);
  }

  private load(): Build | null {
    const index = path.join(this.dir, 'index.html');
    if (!existsSync(index)) return null;
    const assets = new Map<string, Asset>();
    const assetsDir = path.join(this.dir, 'assets');
    for (const name of existsSync(assetsDir) ? readdirSync(assetsDir) : []) {
      const type = TYPES[path.extname(name)];
      if (type && ASSET_NAME.test(name)) {
        assets.set(name, { body: readFileSync(path.join(assetsDir, name)), type });
      }
    }
    return { index: readFileSync(index), assets };
  }
}
