/**
 * Chat templates through @huggingface/jinja, with one fix so they render as transformers' Python
 * Jinja does: in @huggingface/jinja 0.5.11 a string's `strip`, `lstrip` and `rstrip` ignore their
 * `chars` argument and always trim whitespace (the same bug swift-jinja fixed in its #65). Qwen3's
 * template writes `content.lstrip('\n')` and `reasoning_content.strip('\n')`, so a reply starting
 * with a space lost it. The methods are replaced, on the library's string values only, by
 * Python's: without an argument (or None) whitespace, else any of the given characters. The
 * tokenizer tests pin the fixed behaviour, so an upgrade that changes the library's internals
 * fails there rather than silently.
 */
import { Environment, Template } from '@huggingface/jinja';

type Value = { readonly type: string; readonly value: unknown };
type Fn = (args: readonly Value[]) => Value;

let patched = false;

/** Python's str.strip / lstrip / rstrip: `chars` null strips whitespace, else any character in it. */
export function pythonStrip(s: string, chars: string | null, side: 'both' | 'left' | 'right'): string {
  if (chars === null) return side === 'both' ? s.trim() : side === 'left' ? s.trimStart() : s.trimEnd();
  const set = new Set(chars);
  const cs = [...s];
  let start = 0;
  let end = cs.length;
  if (side !== 'right') while (start < end && set.has(cs[start] as string)) start++;
  if (side !== 'left') while (end > start && set.has(cs[end - 1] as string)) end--;
  return cs.slice(start, end).join('');
}

function patchStringMethods(): void {
  if (patched) return;
  patched = true;
  // The library exports neither its value classes nor this getter; they are reached through values it makes.
  const env = new Environment();
  env.set('s', '');
  env.set('f', () => '');
  const sample = env.lookupVariable('s') as unknown as Value;
  const proto = Object.getPrototypeOf(sample) as object;
  const builtins = Object.getOwnPropertyDescriptor(proto, 'builtins')?.get;
  const FunctionValue = (env.lookupVariable('f') as unknown as { constructor: new (fn: Fn) => Value }).constructor;
  const StringValue = (sample as unknown as { constructor: new (s: string) => Value }).constructor;
  if (sample.type !== 'StringValue' || builtins === undefined)
    throw new Error('@huggingface/jinja: string values no longer have a builtins getter; check the strip fix in src/core/tokenizer/jinja.ts');
  const fixed = new WeakSet<Map<string, unknown>>();
  Object.defineProperty(proto, 'builtins', {
    configurable: true,
    get(this: Value) {
      const map = builtins.call(this) as Map<string, unknown>;
      if (!fixed.has(map)) {
        fixed.add(map);
        const text = this.value as string;
        for (const [name, side] of [
          ['strip', 'both'],
          ['lstrip', 'left'],
          ['rstrip', 'right'],
        ] as const) {
          map.set(
            name,
            new FunctionValue((args) => {
              const chars = args[0];
              if (chars !== undefined && chars.type !== 'StringValue' && chars.type !== 'NullValue' && chars.type !== 'UndefinedValue') {
                throw new Error(`${name} arg must be None or str, not ${chars.type}`);
              }
              return new StringValue(pythonStrip(text, chars?.type === 'StringValue' ? (chars.value as string) : null, side));
            }),
          );
        }
      }
      return map;
    },
  });
}

/** A chat template, parsed (rendering errors come from `render`). */
export function compileChatTemplate(source: string): Template {
  patchStringMethods();
  return new Template(source);
}
