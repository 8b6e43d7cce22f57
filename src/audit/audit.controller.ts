import { Controller, Get, Query, Res } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { MasterKey } from '../access/access.decorator';
import type { Principal } from '../access/principal';
import { AuthPrincipal } from '../access/principal.decorator';
import { auditCsv } from './audit-csv';
import { AuditService } from './audit.service';
import { AuditPageDto, AuditQueryDto } from './dto/audit.dto';

/** The account's audit log: read-only, newest first. Nothing here changes or deletes it. */
@ApiTags('audit')
@Controller('1.0/audit')
@MasterKey()
@ApiBadRequestResponse({ description: 'A bad from, to, action, keyId, cursor, limit or format.' })
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  /**
   * Key changes, sign-ins and sign-ups of the account, newest first, one page at a time
   * (`nextCursor`). `format=csv` returns the page as CSV, with the next cursor in the
   * `x-next-cursor` header.
   */
  @Get()
  @ApiOkResponse({ type: AuditPageDto })
  @ApiProduces('application/json', 'text/csv')
  async list(
    @AuthPrincipal() principal: Principal,
    @Query() query: AuditQueryDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<AuditPageDto | string> {
    const { entries, nextCursor } = await this.audit.page(principal.accountId, query);
    res.setHeader('Cache-Control', 'no-store');
    if (query.format !== 'csv') return { success: true, entries, nextCursor };
    if (nextCursor !== null) res.setHeader('x-next-cursor', nextCursor);
    res.type('text/csv');
    return auditCsv(entries);
  }
}
