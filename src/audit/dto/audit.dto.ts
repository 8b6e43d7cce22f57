import { ApiProperty } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, IsUUID, Matches } from 'class-validator';
import { AUDIT_ACTIONS } from '../audit-actions';

export const MAX_AUDIT_PAGE = 1000;
export const DEFAULT_AUDIT_PAGE = 100;

export class AuditQueryDto {
  /** Entries at or after this instant (ISO-8601; without a zone, UTC). */
  @IsOptional()
  @IsString({ message: 'from must be given once, as an ISO-8601 date' })
  from?: string;

  /** Entries before this instant (ISO-8601; without a zone, UTC). */
  @IsOptional()
  @IsString({ message: 'to must be given once, as an ISO-8601 date' })
  to?: string;

  /** Only this action. */
  @IsOptional()
  @IsIn(AUDIT_ACTIONS, { message: `action must be one of ${AUDIT_ACTIONS.join(', ')}` })
  @IsString({ message: 'action must be given once' })
  action?: string;

  /** Only entries about this key (its id; deleted keys' entries stay). */
  @IsOptional()
  @IsUUID('all', { message: 'keyId must be a key id (uuid)' })
  @IsString({ message: 'keyId must be given once' })
  keyId?: string;

  /** The nextCursor of the page before. */
  @IsOptional()
  @Matches(/^[1-9]\d{0,9}$/, { message: 'cursor must be the nextCursor of an earlier page' })
  @IsString({ message: 'cursor must be given once' })
  cursor?: string;

  /** Entries per page, 1-1000 (default 100). */
  @IsOptional()
  @Matches(/^(?:[1-9]\d{0,2}|1000)$/, { message: `limit must be a whole number from 1 to 1000` })
  @IsString({ message: 'limit must be given once' })
  limit?: string;

  /** json (default) or csv. */
  @IsOptional()
  @IsIn(['json', 'csv'], { message: 'format must be json or csv' })
  @IsString({ message: 'format must be given once' })
  format?: 'json' | 'csv';
}

class AuditActorDto {
  /** master_key, key, session, password, anonymous or system. @example master_key */
  type!: string;
  /** The key's id (master_key, key) or the session's (session); else null. */
  @ApiProperty({ type: String, nullable: true })
  id!: string | null;
}

class AuditTargetDto {
  keyId!: string;
  keyName!: string;
}

export class AuditEntryView {
  /** The entry's place in the log (increasing). */
  id!: number;
  at!: Date;
  @ApiProperty({ enum: AUDIT_ACTIONS })
  action!: string;
  actor!: AuditActorDto;
  /** The key the action was about (id and name, never the key); null for account actions. */
  @ApiProperty({ type: AuditTargetDto, nullable: true })
  target!: AuditTargetDto | null;
  /** What changed: {field: {before, after}}; null when the action changed no field. */
  @ApiProperty({ type: Object, nullable: true })
  changes!: Record<string, { before: unknown; after: unknown }> | null;
  @ApiProperty({ type: String, nullable: true })
  ip!: string | null;
  @ApiProperty({ type: String, nullable: true })
  userAgent!: string | null;
  @ApiProperty({ type: String, nullable: true })
  requestId!: string | null;
}

export class AuditPageDto {
  success!: true;
  /** Newest first. */
  entries!: AuditEntryView[];
  /** Pass as `cursor` for the next (older) page; null on the last. */
  @ApiProperty({ type: String, nullable: true })
  nextCursor!: string | null;
}
