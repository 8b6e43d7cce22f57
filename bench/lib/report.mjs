// The report: targets gathered from the scenarios, verdicts, the JSON object and the table.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { round } from './util.mjs';

/**
 * Every scenario's targets, one entry per field, in scenario-id order (B1, B2, ... B9, then
 * later letters): { field: { scenario, op, value, met?, cell? } }. op is '>=', '<=' or '=='
 * (a verdict), 'report' or 'info' (a figure with no verdict), or anything else with `met`.
 */
export function collectTargets(scenarios) {
  const entries = [];
  for (const s of scenarios) {
    for (const [field, t] of Object.entries(s.targets ?? {})) {
      if (entries.some(([f]) => f === field))
        throw new Error(`field ${field} is a target of two scenarios`);
      entries.push([field, { scenario: s.id, ...t }]);
    }
  }
  const order = (a, b) => a.localeCompare(b, 'en', { numeric: true });
  // Array sort is stable: a scenario's fields keep the order they are declared in.
  entries.sort(([, a], [, b]) => order(a.scenario, b.scenario));
  return Object.fromEntries(entries);
}

/** true / false when the field has a target, null when it is reported without one. */
export function verdict(t, fields, field) {
  if (!t) return null;
  if (t.met) return t.met(fields) ?? null;
  const value = fields?.[field];
  if (value === null || value === undefined) return null;
  switch (t.op) {
    case '>=':
      return value >= t.value;
    case '<=':
      return value <= t.value;
    case '==':
      return value === t.value;
    default:
      return null;
  }
}

export function targetText(t) {
  if (t.value === null || t.value === undefined) return t.op;
  return `${t.op === '==' ? '=' : t.op === '>=' ? '≥' : '≤'} ${t.value}`;
}

/** Steal and total jiffies of all CPUs from /proc/stat (Linux), or null. */
function cpuSteal() {
  try {
    const fields = readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    return { steal: fields[7] ?? 0, total: fields.slice(0, 8).reduce((a, b) => a + b, 0) };
  } catch {
    return null;
  }
}

function pkgVersion(dir, name) {
  try {
    return JSON.parse(readFileSync(path.join(dir, 'node_modules', name, 'package.json'), 'utf8'))
      .version;
  } catch {
    return null;
  }
}

function git(repo, ...args) {
  try {
    return execFileSync('git', args, {
      cwd: repo,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null;
  }
}

/** The report's head, before any scenario ran: versions, machine, settings, targets. */
export function startReport({ P, appDir, repo, settings, targets }) {
  const started = new Date();
  const head = git(repo, 'rev-parse', '--short', 'HEAD') ?? 'unknown';
  const dirty = git(repo, 'status', '--porcelain', '--', 'src', 'prisma') ? '+dirty' : '';
  const report = {
    suite: 'keymeter-bench',
    mode: P.mode,
    started_at: started.toISOString(),
    versions: {
      node: process.version,
      nestjs: pkgVersion(appDir, '@nestjs/core'),
      prisma: pkgVersion(appDir, '@prisma/client'),
      better_sqlite3: pkgVersion(appDir, 'better-sqlite3'),
      pg: pkgVersion(appDir, 'pg'),
      autocannon: pkgVersion(repo, 'autocannon'),
      sqlite: null,
      postgresql: null,
      keymeter: `${head}${dirty}`,
    },
    machine: {
      cpus: os.cpus().length,
      cpu_model: os.cpus()[0]?.model?.replace(/\s+/g, ' ').trim(),
      memory_gib: round(os.totalmem() / 2 ** 30, 1),
      os: `${os.type()} ${os.release()} ${os.arch()}`,
      loadavg_start: os.loadavg().map((l) => round(l, 2)),
    },
    settings: { ...P, ...settings },
    targets: Object.fromEntries(Object.entries(targets).map(([k, t]) => [k, targetText(t)])),
    results: {},
  };
  return report;
}

/** Where the run's clock and CPU steal start, for finishReport. */
export function startClock() {
  return { t0: performance.now(), steal: cpuSteal() };
}

/** The report's tail, once every database ran: load, steal, duration, verdicts, flat fields. */
export function finishReport(report, targets, clock) {
  report.machine.loadavg_end = os.loadavg().map((l) => round(l, 2));
  const stealStart = clock.steal;
  const stealEnd = cpuSteal();
  // Time the hypervisor gave to other guests while this run wanted the CPU (a VM's noise).
  report.machine.cpu_steal_pct =
    stealStart && stealEnd
      ? round(
          (100 * (stealEnd.steal - stealStart.steal)) /
            Math.max(1, stealEnd.total - stealStart.total),
          1,
        )
      : null;
  report.duration_s = round((performance.now() - clock.t0) / 1000, 0);
  report.verdict = [];
  for (const [kind, r] of Object.entries(report.results)) {
    if (r.skipped) continue;
    for (const [field, t] of Object.entries(targets)) {
      const value = r.fields[field];
      if (value === undefined) continue;
      report.verdict.push({
        db: kind,
        scenario: t.scenario,
        field,
        value,
        target: targetText(t),
        met: verdict(t, r.fields, field),
      });
    }
  }
  // The field names, flat, per database.
  for (const [kind, r] of Object.entries(report.results)) if (!r.skipped) report[kind] = r.fields;
  return report;
}

/** --out FILE: the JSON; stdout: the JSON with --json, else the table. */
export function writeReport(report, targets, { out, json }) {
  if (out) writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  if (json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else console.log(`\n${table(report, targets)}`);
}

export function table(report, targets) {
  const dbs = Object.keys(report.results);
  const lines = [];
  lines.push(
    `keymeter benchmark (${report.mode}), ${report.started_at}; ${report.duration_s} s`,
    `Node ${report.versions.node}, NestJS ${report.versions.nestjs}, Prisma ${report.versions.prisma}, ` +
      `SQLite ${report.versions.sqlite ?? '-'}, PostgreSQL ${report.versions.postgresql ?? '-'}, autocannon ${report.versions.autocannon}; ` +
      `keymeter ${report.versions.keymeter}`,
    `${report.machine.cpus} x ${report.machine.cpu_model}, ${report.machine.memory_gib} GiB, load average ${report.machine.loadavg_start.join(' ')} -> ${report.machine.loadavg_end.join(' ')}; CPU steal ${report.machine.cpu_steal_pct ?? '-'} %; CPU pinning: ${report.settings.cpu_pinning}`,
    '',
  );
  const header = [
    'scenario',
    'field',
    ...dbs.map((d) => `${d} (median / worst)`),
    'target',
    ...dbs.map((d) => `${d} met`),
  ];
  const rows = [header];
  const worstOf = (r, field) => r.fields[`${field}_worst`];
  for (const [field, t] of Object.entries(targets)) {
    const cells = dbs.map((d) => {
      const r = report.results[d];
      if (r.skipped) return 'skipped';
      const v = r.fields?.[field];
      if (v === undefined) {
        if (r.details?.[t.scenario]?.skipped) return 'not run';
        return Object.keys(r.errors ?? {}).some((k) => k.includes(t.scenario)) ? 'error' : '-';
      }
      if (t.cell) return t.cell(v, r.fields);
      const w = worstOf(r, field);
      return w !== undefined ? `${v} / ${w}` : String(v);
    });
    const met = dbs.map((d) => {
      const ok = verdict(t, report.results[d].fields, field);
      return ok === null ? '' : ok ? 'yes' : 'NO';
    });
    rows.push([t.scenario, field, ...cells, targetText(t), ...met]);
  }
  const widths = header.map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  for (const [i, r] of rows.entries()) {
    lines.push(
      r
        .map((c, j) => String(c).padEnd(widths[j]))
        .join('  ')
        .trimEnd(),
    );
    if (i === 0) lines.push(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  // B1 in absolute terms, per runtime
  lines.push(
    '',
    'B1 absolute (medians of the runs; 50 connections; latency p50/p99 in ms; server CPU per request):',
  );
  const abs = (v) => `${v.rps} req/s, p50 ${v.p50_ms}, p99 ${v.p99_ms}, ${v.cpu_us_per_req} µs CPU`;
  for (const d of dbs) {
    const b1 = report.results[d].details?.B1;
    if (!b1?.runtimes) continue;
    for (const [label, rt] of Object.entries(b1.runtimes)) {
      lines.push(
        `  ${d} ${label} (${rt.node}): unmetered ${abs(rt.unmetered)} | metered ${abs(rt.metered)} | ` +
          `ratio ${rt.metered_over_unmetered} (by CPU ${rt.metered_over_unmetered_cpu})`,
      );
    }
  }
  if (report.node24_note) lines.push(`  ${report.node24_note}`);
  for (const d of dbs) {
    const r = report.results[d];
    if (r.skipped) lines.push('', `${d}: skipped (${r.skipped})`);
    if (r.errors)
      lines.push('', `${d}: errors in ${Object.keys(r.errors).join(', ')} (see --json)`);
  }
  return lines.join('\n');
}
