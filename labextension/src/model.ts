/**
 * The sidebar's view model: pure functions from kernel state to what is shown.
 *
 * Kept apart from the DOM so every rule (how an expiry reads, what status a
 * credential has, how an edited KV text becomes a typed value) is unit-tested.
 */

import { ICredentialRow, IState, JSONValue, KvType, TokenState } from './protocol';

/** `3725` -> `1h 2m`, `59` -> `59s`, `90061` -> `1d 1h`: two units at most. */
export function formatDuration(seconds: number): string {
  let s = Math.max(0, Math.floor(seconds));
  const units: [string, number][] = [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
    ['s', 1]
  ];
  const parts: string[] = [];
  for (const [name, size] of units) {
    if (s >= size || (name === 's' && parts.length === 0)) {
      parts.push(`${Math.floor(s / size)}${name}`);
      s %= size;
    }
    if (parts.length === 2) {
      break;
    }
  }
  return parts.join(' ');
}

/**
 * How long until expiry, given the kernel's `expires_in` at the time it sent
 * the state and the seconds elapsed since (the browser's clock is never compared
 * with the kernel's).
 */
export function formatExpiry(expiresIn: number | null, elapsed: number): string {
  if (expiresIn === null) {
    return 'no expiry';
  }
  const left = expiresIn - elapsed;
  if (left <= 0) {
    return 'expired';
  }
  return `expires in ${formatDuration(left)}`;
}

/** `42 s`, `59 min`, `5 h`, `3 d`: one unit, rounded down (as the kernel's `duration`). */
export function tokenDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 120) {
    return `${s} s`;
  }
  if (s < 7200) {
    return `${Math.floor(s / 60)} min`;
  }
  if (s < 172800) {
    return `${Math.floor(s / 3600)} h`;
  }
  return `${Math.floor(s / 86400)} d`;
}

/**
 * The token state now: the kernel's state name, turned `expired` when the
 * lifetime it sent has run out since (no clock is compared).
 */
export function credentialStatus(row: ICredentialRow, elapsed: number): TokenState {
  const expiredNow = row.expires_in !== null && row.expires_in - elapsed <= 0;
  const state: TokenState = row.state ?? (row.cached ? 'valid' : 'not_fetched');
  if (state === 'valid' && expiredNow) {
    return 'expired';
  }
  return state;
}

/**
 * The one vocabulary, worded as the kernel words it (`describe_token`):
 * `valid · expires in 59 min`, `valid · no expiry`, `expired`, `not fetched yet`,
 * `failed: …`.
 */
export function credentialStatusText(row: ICredentialRow, elapsed: number): string {
  const state = credentialStatus(row, elapsed);
  switch (state) {
    case 'valid':
      return row.expires_in === null
        ? 'valid · no expiry'
        : `valid · expires in ${tokenDuration(row.expires_in - elapsed)}`;
    case 'failed':
      return `failed: ${row.error ?? 'unknown error'}`;
    case 'expired':
      return 'expired';
    default:
      return 'not fetched yet';
  }
}

/** The level column: `tenant`, the namespace, and a hint when inherited from a parent. */
export function levelLabel(level: string, inherited: boolean): string {
  return inherited ? `${level} (inherited)` : level;
}

export const TENANT_OPTION = '(tenant)';

/** Namespace choices: the tenant level, every known namespace, and the current one. */
export function namespaceOptions(state: IState): { value: string; label: string; selected: boolean }[] {
  const names = new Set(state.namespaces);
  if (state.namespace !== null) {
    names.add(state.namespace);
  }
  const sorted = Array.from(names).sort();
  return [
    { value: '', label: TENANT_OPTION, selected: state.namespace === null },
    ...sorted.map(n => ({ value: n, label: n, selected: n === state.namespace }))
  ];
}

/** `''` (the tenant option) -> null; else the name, trimmed. */
export function namespaceFromInput(text: string): string | null {
  const t = text.trim();
  return t === '' || t === TENANT_OPTION ? null : t;
}

/**
 * The types the KV editor offers: the kernel's list (`state.kv_types`); from a kernel
 * that sends none, just the edited key's own type, so no list is kept here.
 */
export function kvTypeChoices(state: IState | null, current: KvType): KvType[] {
  const types = state?.kv_types ?? [];
  return types.length ? (types.includes(current) ? types : [...types, current]) : [current];
}

export type Parsed = { ok: true; value: JSONValue } | { ok: false; message: string };

/**
 * Turn the text typed in the KV editor into the JSON value sent to the kernel.
 * Dates and durations go as ISO-8601 text: the kernel parses them.
 */
export function parseKvText(type: KvType, text: string): Parsed {
  switch (type) {
    case 'STRING':
      return { ok: true, value: text };
    case 'NUMBER': {
      const t = text.trim();
      const n = Number(t);
      if (t === '' || !Number.isFinite(n)) {
        return { ok: false, message: `"${t}" is not a number` };
      }
      return { ok: true, value: n };
    }
    case 'BOOLEAN': {
      const t = text.trim().toLowerCase();
      if (t === 'true' || t === 'false') {
        return { ok: true, value: t === 'true' };
      }
      return { ok: false, message: 'a BOOLEAN is true or false' };
    }
    case 'JSON':
      try {
        return { ok: true, value: JSON.parse(text) as JSONValue };
      } catch (e) {
        return { ok: false, message: `not valid JSON: ${(e as Error).message}` };
      }
    case 'DATETIME':
    case 'DATE':
    case 'DURATION': {
      const t = text.trim();
      if (t === '') {
        return { ok: false, message: `a ${type} needs ISO-8601 text` };
      }
      return { ok: true, value: t };
    }
    default:
      // a type the kernel knows and this panel has no rule for: the text as typed,
      // which the kernel checks and parses (its error names what it expects)
      return { ok: true, value: text };
  }
}

/** A one-line summary of the state, for the panel's header and for screen readers. */
export function summary(state: IState): string {
  const ns = state.namespace ?? 'tenant level';
  const n = (k: number, w: string) => `${k} ${w}${k === 1 ? '' : 's'}`;
  return `${ns}: ${n(state.secrets.length, 'secret')}, ${n(state.credentials.length, 'credential')}, ${n(state.kv.length, 'KV key')}`;
}
