/**
 * JSON text exactly as Python's `json.dumps(value, indent=2, sort_keys=True)` writes it, for the
 * files transformers and PEFT write that way (model.safetensors.index.json, adapter_config.json):
 * keys sorted, two-space indent, "," and ": " separators, non-ASCII escaped (ensure_ascii), and
 * floats in Python's repr (`0.0`, `1e-05`), so a file we write is the file they would.
 */

/** A number Python holds as a float: written `1.0`, not `1`. */
export class PyFloat {
  constructor(readonly value: number) {}
}

export function pythonJson(value: unknown, indent = ''): string {
  if (value instanceof PyFloat) return pythonFloat(value.value);
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number') return Number.isInteger(value) && Math.abs(value) < 2 ** 53 ? String(value) : pythonFloat(value);
  if (typeof value === 'string') return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  const inner = indent + '  ';
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((v) => inner + pythonJson(v, inner)).join(',\n')}\n${indent}]`;
  }
  const keys = Object.keys(value as Record<string, unknown>).sort();
  if (keys.length === 0) return '{}';
  return `{\n${keys.map((k) => `${inner}${pythonJson(k)}: ${pythonJson((value as Record<string, unknown>)[k], inner)}`).join(',\n')}\n${indent}}`;
}

/** Python's float repr: the shortest round-tripping digits (as JS), fixed for 1e-4 ≤ |x| < 1e16. */
function pythonFloat(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  const [mantissa, expText] = Math.abs(x).toExponential().split('e') as [string, string];
  const digits = mantissa.replace('.', '');
  const exp = Number(expText);
  if (exp < -4 || exp >= 16) return `${sign}${digits[0]}${digits.length > 1 ? '.' + digits.slice(1) : ''}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  const whole = digits.padEnd(exp + 1, '0');
  return `${sign}${whole.slice(0, exp + 1)}.${whole.slice(exp + 1) || '0'}`;
}
