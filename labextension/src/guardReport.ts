/**
 * The save guard's reports (GET nbcreds/guard/last) and the words the
 * notification uses. Pure: no JupyterLab import, unit-tested with vitest.
 *
 * A report names places, kinds, rules and what was done; never a value.
 */

export interface IGuardFinding {
  location: string;
  cell: number | null;
  kind: string;
  rule: string;
  encoding: string;
  part: string; // source, output, attachment, metadata, widget state, file
  action: string; // masked, kept, refused
}

export interface IGuardReport {
  id: number;
  path: string;
  operation: string;
  mode: string;
  action: string; // clean, masked, reported, refused
  config: string | null;
  error: string | null;
  time: number;
  findings: IGuardFinding[];
}

/** JupyterLab cuts a notification's message at 140 characters. */
export const MAX_MESSAGE = 140;

export const CONFIGURE_HINT =
  'Set [guard] mode = "scrub" | "warn" | "block" | "off" in nbcreds.toml to change what is done.';

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function where(f: IGuardFinding): string {
  const part = f.part === 'file' ? 'text' : f.part;
  return f.cell !== null ? `cell ${f.cell} ${part}` : part;
}

function places(findings: IGuardFinding[]): string {
  const seen: string[] = [];
  for (const f of findings) {
    const w = `${where(f)} (${f.kind})`;
    if (!seen.includes(w)) {
      seen.push(w);
    }
  }
  return seen.length > 2 ? `${seen.slice(0, 2).join(', ')} and more` : seen.join(', ');
}

/** Should this report be shown? (something found, or the config is broken) */
export function isNotable(report: IGuardReport | null, lastShown: number): boolean {
  return (
    report !== null && report.id > lastShown && (report.findings.length > 0 || !!report.error)
  );
}

/** The notification's type and one-line message (at most MAX_MESSAGE characters). */
export function guardMessage(report: IGuardReport): {
  type: 'info' | 'warning' | 'error';
  message: string;
} {
  const masked = report.findings.filter(f => f.action === 'masked');
  const kept = report.findings.filter(f => f.action === 'kept');
  const refused = report.findings.filter(f => f.action === 'refused');
  const parts: string[] = [];
  let type: 'info' | 'warning' | 'error' = 'warning';
  if (refused.length) {
    type = 'error';
    parts.push(`nbcreds refused the save: ${plural(refused.length, 'secret')} in ${places(refused)}.`);
  }
  if (masked.length) {
    parts.push(`nbcreds masked ${plural(masked.length, 'secret')} on save: ${places(masked)}.`);
  }
  if (kept.length) {
    const sources = kept.filter(f => f.part === 'source' || f.part === 'file');
    if (sources.length === kept.length) {
      parts.push(`Saved as written: ${places(kept)} holds a secret; remove it.`);
    } else {
      parts.push(`Saved with ${plural(kept.length, 'secret')}: ${places(kept)}.`);
    }
  }
  if (!report.findings.length && report.error) {
    parts.push('nbcreds save guard: nbcreds.toml has an error; defaults apply.');
  }
  let message = parts.join(' ');
  if (message.length > MAX_MESSAGE) {
    const total = report.findings.length;
    message = refused.length
      ? `nbcreds refused the save: ${plural(total, 'secret')} found. See Details.`
      : `nbcreds found ${plural(total, 'secret')} on save (${masked.length} masked). See Details.`;
  }
  return { type, message };
}

/** The lines of the Details dialog: one per finding, then the error and the hint. */
export function guardDetails(report: IGuardReport): string[] {
  const verbs: Record<string, string> = {
    masked: 'masked in the saved file',
    kept: report.mode === 'warn' ? 'kept (warn mode)' : 'kept: nbcreds never changes code',
    refused: 'save refused'
  };
  const lines = report.findings.map(
    f =>
      `${f.location}: ${f.kind}${f.encoding === 'raw' ? '' : ` (${f.encoding})`} [${f.rule}] — ${
        verbs[f.action] ?? f.action
      }`
  );
  if (report.findings.some(f => f.action === 'masked')) {
    lines.push('The notebook open here still shows the values: reload it from disk to see the masked file.');
  }
  if (report.error) {
    lines.push(`Config: ${report.error}`);
  }
  lines.push(`Mode: ${report.mode}${report.config ? ` (from ${report.config})` : ' (default)'}.`);
  lines.push(CONFIGURE_HINT);
  return lines;
}
