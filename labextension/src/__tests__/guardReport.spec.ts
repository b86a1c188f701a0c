import { describe, expect, it } from 'vitest';

import {
  CONFIGURE_HINT,
  guardDetails,
  guardMessage,
  IGuardFinding,
  IGuardReport,
  isNotable,
  MAX_MESSAGE
} from '../guardReport';

const finding = (over: Partial<IGuardFinding> = {}): IGuardFinding => ({
  location: 'cell 2:output 1 (stream stdout)',
  cell: 2,
  kind: 'GitHub token',
  rule: 'github-token',
  encoding: 'raw',
  part: 'output',
  action: 'masked',
  ...over
});

const report = (over: Partial<IGuardReport> = {}): IGuardReport => ({
  id: 7,
  path: 'etl.ipynb',
  operation: 'save',
  mode: 'scrub',
  action: 'masked',
  config: null,
  error: null,
  time: 0,
  findings: [finding()],
  ...over
});

describe('isNotable', () => {
  it('shows new reports that found something or carry an error', () => {
    expect(isNotable(report(), 0)).toBe(true);
    expect(isNotable(report(), 7)).toBe(false);
    expect(isNotable(report({ findings: [] }), 0)).toBe(false);
    expect(isNotable(report({ findings: [], error: 'bad [guard] mode' }), 0)).toBe(true);
    expect(isNotable(null, 0)).toBe(false);
  });
});

describe('guardMessage', () => {
  it('says what was masked and where', () => {
    const { type, message } = guardMessage(report());
    expect(type).toBe('warning');
    expect(message).toBe('nbcreds masked 1 secret on save: cell 2 output (GitHub token).');
  });

  it('says a source was kept and asks to remove it', () => {
    const { message } = guardMessage(
      report({
        findings: [
          finding(),
          finding({ location: 'cell 1:source', cell: 1, part: 'source', action: 'kept', kind: 'JSON Web Token' })
        ]
      })
    );
    expect(message).toContain('nbcreds masked 1 secret on save: cell 2 output (GitHub token).');
    expect(message).toContain('Saved as written: cell 1 source (JSON Web Token) holds a secret; remove it.');
  });

  it('is an error when the save was refused', () => {
    const { type, message } = guardMessage(
      report({ mode: 'block', action: 'refused', findings: [finding({ action: 'refused' })] })
    );
    expect(type).toBe('error');
    expect(message).toContain('refused the save');
    expect(message).toContain('cell 2 output');
  });

  it('stays within JupyterLab’s 140 characters', () => {
    const many = Array.from({ length: 12 }, (_, i) =>
      finding({ cell: i + 1, location: `cell ${i + 1}:output 1 (text/html)`, kind: 'high-entropy value assigned to a secret-like name' })
    );
    many.push(finding({ part: 'source', action: 'kept', cell: 20, location: 'cell 20:source' }));
    const { message } = guardMessage(report({ findings: many }));
    expect(message.length).toBeLessThanOrEqual(MAX_MESSAGE);
    expect(message).toContain('13 secrets');
  });
});

describe('guardDetails', () => {
  it('lists every place, kind, rule and action, then how to configure', () => {
    const lines = guardDetails(
      report({
        config: '/srv/nbcreds.toml',
        findings: [finding({ encoding: 'base64' }), finding({ part: 'source', action: 'kept', location: 'cell 1:source', cell: 1 })]
      })
    );
    expect(lines[0]).toBe(
      'cell 2:output 1 (stream stdout): GitHub token (base64) [github-token] — masked in the saved file'
    );
    expect(lines[1]).toContain('kept: nbcreds never changes code');
    expect(lines).toContain('Mode: scrub (from /srv/nbcreds.toml).');
    expect(lines[lines.length - 1]).toBe(CONFIGURE_HINT);
    expect(lines.some(l => l.includes('reload it from disk'))).toBe(true);
  });
});
