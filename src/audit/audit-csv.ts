import type { AuditEntryView } from './dto/audit.dto';

const COLUMNS = [
  'at',
  'action',
  'actor_type',
  'actor_id',
  'key_id',
  'key_name',
  'changes',
  'ip',
  'user_agent',
  'request_id',
] as const;

/**
 * One CSV cell (RFC 4180): quoted when it holds a comma, quote or line break. A cell that a
 * spreadsheet would run as a formula (=, +, -, @, tab, CR first: a key name or user agent is
 * the client's text) is prefixed with a single quote (OWASP's advice on CSV injection).
 */
export function csvCell(value: string | number | null): string {
  if (value === null) return '';
  let text = String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The entries as CSV, a header line first, newest first like the JSON. */
export function auditCsv(entries: readonly AuditEntryView[]): string {
  const lines = [COLUMNS.join(',')];
  for (const e of entries) {
    lines.push(
      [
        e.at.toISOString(),
        e.action,
        e.actor.type,
        e.actor.id,
        e.target?.keyId ?? null,
        e.target?.keyName ?? null,
        e.changes === null ? null : JSON.stringify(e.changes),
        e.ip,
        e.userAgent,
        e.requestId,
      ]
        .map(csvCell)
        .join(','),
    );
  }
  return `${lines.join('\r\n')}\r\n`;
}
