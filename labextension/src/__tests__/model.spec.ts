import { describe, expect, it } from 'vitest';

import {
  credentialStatusText,
  tokenDuration,
  credentialStatus,
  formatDuration,
  formatExpiry,
  kvTypeChoices,
  levelLabel,
  namespaceFromInput,
  namespaceOptions,
  parseKvText,
  summary,
  TENANT_OPTION
} from '../model';
import { ICredentialRow, IState } from '../protocol';

const cred = (over: Partial<ICredentialRow> = {}): ICredentialRow => ({
  name: 'api',
  type: 'oauth2_client_credentials',
  level: 'tenant',
  inherited: false,
  cached: true,
  expires_in: 120,
  ...over
});

const state = (over: Partial<IState> = {}): IState => ({
  version: '0.1.0',
  namespace: 'company.team',
  namespaces: ['company', 'company.team'],
  secrets: [],
  credentials: [],
  kv: [],
  kv_types: ['STRING', 'NUMBER', 'JSON'],
  errors: {},
  ...over
});

describe('kvTypeChoices', () => {
  it("offers the kernel's types, in its order", () => {
    expect(kvTypeChoices(state(), 'NUMBER')).toEqual(['STRING', 'NUMBER', 'JSON']);
  });

  it("keeps a key's own type the kernel did not list", () => {
    expect(kvTypeChoices(state(), 'DATE')).toEqual(['STRING', 'NUMBER', 'JSON', 'DATE']);
  });

  it("offers only the key's own type when the kernel sent no list (no list of its own)", () => {
    expect(kvTypeChoices(state({ kv_types: [] }), 'NUMBER')).toEqual(['NUMBER']);
    expect(kvTypeChoices(null, 'STRING')).toEqual(['STRING']);
  });
});

describe('durations and expiry', () => {
  it.each([
    [0, '0s'],
    [59.9, '59s'],
    [60, '1m'],
    [3725, '1h 2m'],
    [90061, '1d 1h'],
    [-5, '0s']
  ])('formatDuration(%d) is %s', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });

  it('counts down from the kernel-sent expires_in, never comparing clocks', () => {
    expect(formatExpiry(120, 0)).toBe('expires in 2m');
    expect(formatExpiry(120, 60)).toBe('expires in 1m');
    expect(formatExpiry(120, 120)).toBe('expired');
    expect(formatExpiry(null, 1e9)).toBe('no expiry');
  });
});

describe('credential status: the one vocabulary', () => {
  it('is "not fetched yet" before any token, whatever the expiry', () => {
    expect(credentialStatus(cred({ cached: false, expires_in: null }), 0)).toBe('not_fetched');
    expect(credentialStatusText(cred({ cached: false, expires_in: null }), 0)).toBe('not fetched yet');
  });

  it('is valid while the cached token lives, expired after', () => {
    expect(credentialStatus(cred(), 10)).toBe('valid');
    expect(credentialStatusText(cred({ expires_in: 3570 }), 0)).toBe('valid · expires in 59 min');
    expect(credentialStatusText(cred(), 0)).toBe('valid · expires in 2 min');
    expect(credentialStatus(cred(), 121)).toBe('expired');
    expect(credentialStatusText(cred(), 121)).toBe('expired');
    expect(credentialStatus(cred({ expires_in: null }), 1e6)).toBe('valid');
    expect(credentialStatusText(cred({ expires_in: null }), 1e6)).toBe('valid · no expiry');
  });

  it('formats from the kernel\'s state names, failures with their message', () => {
    const failed = cred({ cached: false, expires_in: null, state: 'failed', error: 'HTTP 401' });
    expect(credentialStatus(failed, 0)).toBe('failed');
    expect(credentialStatusText(failed, 0)).toBe('failed: HTTP 401');
    expect(credentialStatusText(cred({ cached: true, state: 'expired', expires_in: -5 }), 0)).toBe('expired');
  });

  it('words durations as the kernel does', () => {
    expect([0, 119, 120, 7199, 7200, 172800].map(tokenDuration)).toEqual([
      '0 s', '119 s', '2 min', '119 min', '2 h', '2 d'
    ]);
  });
});

describe('namespaces', () => {
  it('offers the tenant level first and selects the current namespace', () => {
    const opts = namespaceOptions(state({ namespace: 'company.team.x' }));
    expect(opts[0]).toEqual({ value: '', label: TENANT_OPTION, selected: false });
    expect(opts.map(o => o.value)).toEqual(['', 'company', 'company.team', 'company.team.x']);
    expect(opts.filter(o => o.selected).map(o => o.value)).toEqual(['company.team.x']);
  });

  it('selects the tenant option when no namespace is set', () => {
    expect(namespaceOptions(state({ namespace: null }))[0].selected).toBe(true);
  });

  it('maps the tenant option and blanks to null', () => {
    expect(namespaceFromInput('')).toBeNull();
    expect(namespaceFromInput('  ')).toBeNull();
    expect(namespaceFromInput(TENANT_OPTION)).toBeNull();
    expect(namespaceFromInput(' a.b ')).toBe('a.b');
  });

  it('marks inherited levels', () => {
    expect(levelLabel('company', true)).toBe('company (inherited)');
    expect(levelLabel('tenant', false)).toBe('tenant');
  });
});

describe('parseKvText', () => {
  it('keeps strings verbatim, spaces included', () => {
    expect(parseKvText('STRING', ' a b ')).toEqual({ ok: true, value: ' a b ' });
  });

  it('parses numbers and refuses non-numbers', () => {
    expect(parseKvText('NUMBER', ' 42.5 ')).toEqual({ ok: true, value: 42.5 });
    expect(parseKvText('NUMBER', 'abc').ok).toBe(false);
    expect(parseKvText('NUMBER', '').ok).toBe(false);
    expect(parseKvText('NUMBER', 'Infinity').ok).toBe(false);
  });

  it('parses booleans strictly', () => {
    expect(parseKvText('BOOLEAN', 'True')).toEqual({ ok: true, value: true });
    expect(parseKvText('BOOLEAN', 'false')).toEqual({ ok: true, value: false });
    expect(parseKvText('BOOLEAN', 'yes').ok).toBe(false);
  });

  it('parses JSON and reports why it is invalid', () => {
    expect(parseKvText('JSON', '{"a": [1, null]}')).toEqual({ ok: true, value: { a: [1, null] } });
    const bad = parseKvText('JSON', '{a:1}');
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.message).toMatch(/not valid JSON/);
  });

  it('sends dates and durations as trimmed ISO text', () => {
    expect(parseKvText('DATETIME', ' 2024-01-02T03:04:05+00:00 ')).toEqual({ ok: true, value: '2024-01-02T03:04:05+00:00' });
    expect(parseKvText('DURATION', 'P1D')).toEqual({ ok: true, value: 'P1D' });
    expect(parseKvText('DATE', '').ok).toBe(false);
    // a type the kernel knows and the panel has no rule for: the text, checked by the kernel
    expect(parseKvText('IPV4', ' 10.0.0.1 ')).toEqual({ ok: true, value: ' 10.0.0.1 ' });
  });
});

describe('summary', () => {
  it('counts with singular and plural', () => {
    const s = state({
      secrets: [{ name: 'A', source: 'env', level: 'tenant', inherited: true }],
      kv: [
        { key: 'a', type: 'STRING', revision: 1, expires_in: null },
        { key: 'b', type: 'STRING', revision: 1, expires_in: null }
      ]
    });
    expect(summary(s)).toBe('company.team: 1 secret, 0 credentials, 2 KV keys');
    expect(summary(state({ namespace: null }))).toMatch(/^tenant level:/);
  });
});
