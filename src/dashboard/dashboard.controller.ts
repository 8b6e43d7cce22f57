import {
  Controller,
  Get,
  NotFoundException,
  Param,
  Res,
  ServiceUnavailableException,
} from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { Public } from '../access/public.decorator';
import { DashboardAssets } from './dashboard-assets';

/**
 * The page's own Content-Security-Policy, stricter than helmet's default (no inline styles,
 * nothing from https: at large, no framing) and without its `upgrade-insecure-requests`: over
 * plain HTTP on any address but localhost, that directive makes the browser fetch the page's
 * own scripts over HTTPS, which fails, and the page stays blank. Over HTTPS it changes nothing,
 * since everything the page loads is same-origin.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "script-src-attr 'none'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Serves the browser dashboard at `/`. The page is revalidated on every load (it names the
 * current build's files); those files have a content hash in their name, so browsers keep them
 * for a year without asking again. The page has no inline script or style.
 */
@Public()
@ApiExcludeController()
@Controller()
export class DashboardController {
  constructor(private readonly files: DashboardAssets) {}

  @Get()
  index(@Res() res: Response): void {
    if (!this.files.index) {
      throw new ServiceUnavailableException(
        'the dashboard is not built: run `npm run build` (or node scripts/build-dashboard.mjs)',
      );
    }
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('Content-Security-Policy', DASHBOARD_CSP);
    res.type('html').send(this.files.index);
  }

  @Get('assets/:file')
  asset(@Param('file') file: string, @Res() res: Response): void {
    const found = this.files.asset(file);
    if (!found) throw new NotFoundException('no such dashboard file');
    res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
    res.type(found.type).send(found.body);
  }
}
