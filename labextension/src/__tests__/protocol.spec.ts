import { describe, expect, it } from 'vitest';

import { decodeMessage, decodeState, encodeRequest, PROTOCOL_VERSION, ProtocolError, TARGET } from '../protocol';

const state = {
  version: '0.1.0',
  namespace: 'company.team',
  namespaces: ['company', 'company.team'],
  secrets: [{ name: 'DB_PASSWORD', source: 'session', level: 'company.team', inherited: false }],
  credentials: [
    { name: 'my_oauth', type: 'oauth2_client_credentials', level: 'tenant', inherited: true, cached: true, expires_in: 3600 }
  ],
  kv: [{ key: 'cursor', type: 'NUMBER', revision: 2, expires_in: null }],
  kv_types: ['STRING', 'NUMBER', 'BOOLEAN', 'DATETIME', 'DATE', 'DURATION', 'JSON'],
  errors: {}
};

describe('encodeRequest', () => {
  it('puts the envelope and the arguments at the top level', () => {
    expect(encodeRequest(7, 'kv_set', { key: 'k', value: { a: [1, true] }, type: 'JSON' })).toEqual({
      v: PROTOCOL_VERSION,
      id: 7,
      op: 'kv_set',
      key: 'k',
      value: { a: [1, true] },
      type: 'JSON'
    });
  });

  it('encodes a state request as the envelope alone', () => {
    expect(encodeRequest(1, 'state', {})).toEqual({ v: 1, id: 1, op: 'state' });
    expect(TARGET).toBe('nbcreds.comm');
  });

  it('keeps a null namespace (the tenant level) explicit', () => {
    expect(encodeRequest(2, 'use_namespace', { namespace: null })).toHaveProperty('namespace', null);
  });
});

describe('decodeMessage', () => {
  it('decodes a state reply and validates the state', () => {
    const msg = decodeMessage({ v: 1, id: 3, op: 'state', ok: true, result: state });
    expect(msg).toEqual({ kind: 'reply', id: 3, op: 'state', ok: true, result: state });
  });

  it('decodes an error reply with its type and message', () => {
    const msg = decodeMessage({ v: 1, id: 4, op: 'kv_get', ok: false, error: { type: 'KVNotFound', message: 'no key x' } });
    expect(msg).toEqual({ kind: 'reply', id: 4, op: 'kv_get', ok: false, error: { type: 'KVNotFound', message: 'no key x' } });
  });

  it('decodes the kernel notices, which carry no payload', () => {
    expect(decodeMessage({ v: 1, event: 'loaded' })).toEqual({ kind: 'event', event: 'loaded' });
    expect(decodeMessage({ v: 1, event: 'changed' })).toEqual({ kind: 'event', event: 'changed' });
  });

  it("decodes a live event with the state the kernel's watcher pushed, validated", () => {
    const pushed = { ...state, seq: 12 };
    expect(decodeMessage({ v: 1, event: 'changed', what: ['kv'], state: pushed })).toEqual({
      kind: 'event',
      event: 'changed',
      state: pushed
    });
    expect(() => decodeMessage({ v: 1, event: 'changed', what: ['kv'], state: { ...state, kv: 'x' } })).toThrow(ProtocolError);
  });

  it('passes non-state results through as objects', () => {
    const msg = decodeMessage({ v: 1, id: 5, op: 'test_credential', ok: true, result: { name: 'x', success: true, message: 'ok' } });
    expect(msg.kind === 'reply' && msg.ok && msg.result).toEqual({ name: 'x', success: true, message: 'ok' });
  });

  it.each([
    ['not an object', 'hello'],
    ['a different protocol version', { v: 2, id: 1, op: 'state', ok: true, result: state }],
    ['an unknown event', { v: 1, event: 'boom' }],
    ['a reply without ok', { v: 1, id: 1, op: 'state', result: state }],
    ['an error without a message', { v: 1, id: 1, op: 'state', ok: false, error: { type: 'X' } }],
    ['a state with a malformed secret row', { v: 1, id: 1, op: 'state', ok: true, result: { ...state, secrets: [{ name: 1 }] } }],
    ['a state whose namespaces are not strings', { v: 1, id: 1, op: 'state', ok: true, result: { ...state, namespaces: [1] } }],
    ['a credential with a non-numeric expiry', { v: 1, id: 1, op: 'state', ok: true, result: { ...state, credentials: [{ ...state.credentials[0], expires_in: 'soon' }] } }],
    ['a kv_set reply whose state is malformed', { v: 1, id: 1, op: 'kv_set', ok: true, result: { ...state, kv: 'x' } }],
    ['KV types that are not strings', { v: 1, id: 1, op: 'state', ok: true, result: { ...state, kv_types: [1] } }],
    ['a state number that is not a number', { v: 1, id: 1, op: 'state', ok: true, result: { ...state, seq: 'x' } }]
  ])('rejects %s', (_what, message) => {
    expect(() => decodeMessage(message)).toThrow(ProtocolError);
  });

  it('names the version mismatch so the user knows what to do', () => {
    expect(() => decodeMessage({ v: 2, event: 'changed' })).toThrow(/install matching nbcreds versions/);
  });
});

describe('decodeState', () => {
  it('accepts the tenant level (null namespace) and section errors', () => {
    const s = decodeState({ ...state, namespace: null, errors: { secrets: 'Vault is sealed' } });
    expect(s.namespace).toBeNull();
    expect(s.errors.secrets).toBe('Vault is sealed');
  });

  it('reads a kernel that sends no KV types (older v1) as an empty list', () => {
    const { kv_types: _omitted, ...old } = state;
    expect(decodeState(old).kv_types).toEqual([]);
  });

  it('rejects errors that are not messages', () => {
    expect(() => decodeState({ ...state, errors: { secrets: 1 } })).toThrow(ProtocolError);
  });
});
