import { auditCsv, csvCell } from './audit-csv';

describe('csvCell', () => {
  it.each([
    [null, ''],
    ['plain', 'plain'],
    [42, '42'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['two\nlines', '"two\nlines"'],
    ['=HYPERLINK("x")', `"'=HYPERLINK(""x"")"`],
    ['+1', "'+1"],
    ['-1', "'-1"],
    ['@sum', "'@sum"],
  ])('writes %j as %j', (value, cell) => {
    expect(csvCell(value)).toBe(cell);
  });
});

describe('auditCsv', () => {
  it('writes a header and one line per entry, CRLF-terminated', () => {
    const csv = auditCsv([
      {
        id: 7,
        at: new Date('2026-12-03T12:00:00.000Z'),
        action: 'key.renamed',
        actor: { type: 'master_key', id: 'k1' },
        target: { keyId: 'k2', keyName: 'new, name' },
        changes: { name: { before: 'old', after: 'new, name' } },
        ip: '127.0.0.1',
        userAgent: 'curl/8',
        requestId: 'r1',
      },
    ]);
    expect(csv).toBe(
      'at,action,actor_type,actor_id,key_id,key_name,changes,ip,user_agent,request_id\r\n' +
        '2026-12-03T12:00:00.000Z,key.renamed,master_key,k1,k2,"new, name",' +
        '"{""name"":{""before"":""old"",""after"":""new, name""}}",127.0.0.1,curl/8,r1\r\n',
    );
  });
});
