// `npm test`: the type check, the linter (ESLint with the layer rules, knip, Prettier) and the
// build, then the three test layers, each with its own node:test run, and a summary of pass/fail
// counts per layer. Exits non-zero on any failure or on a layer that ran no test.
// Usage: node scripts/test.mjs [check] [lint] [unit] [webview] [e2e]
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const LAYERS = {
  unit: { dir: 'test/unit', concurrency: 2, timeoutMs: 10 * 60_000 },
  webview: { dir: 'test/webview', concurrency: 1, timeoutMs: 5 * 60_000 },
  e2e: { dir: 'test/e2e', concurrency: 1, timeoutMs: 20 * 60_000 },
};
const asked = process.argv.slice(2);
const CHECKS = ['check', 'lint'];
const steps = asked.length ? asked : [...CHECKS, ...Object.keys(LAYERS)];
for (const s of steps) {
  if (!CHECKS.includes(s) && !(s in LAYERS)) {
    console.error(`test: unknown layer '${s}' (${[...CHECKS, ...Object.keys(LAYERS)].join(', ')})`);
    process.exit(2);
  }
}

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

function run(cmd, args, env = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  return r.status ?? 1;
}

const summary = [];
let failed = false;
mkdirSync('.artifacts', { recursive: true });

if (steps.includes('check')) {
  const ok = run('npx', ['tsc', '-p', '.']) === 0 && run('npx', ['tsc', '-p', 'webview']) === 0;
  summary.push({ layer: 'check', pass: ok ? 1 : 0, fail: ok ? 0 : 1, note: 'tsc --noEmit (host, webview)' });
  failed ||= !ok;
}
if (steps.includes('lint')) {
  const ok = run('npm', ['run', '--silent', 'lint']) === 0;
  summary.push({ layer: 'lint', pass: ok ? 1 : 0, fail: ok ? 0 : 1, note: 'eslint (layers), knip, prettier --check' });
  failed ||= !ok;
}
// Every layer runs against fresh bundles.
if (steps.some((s) => !CHECKS.includes(s))) {
  if (run('node', ['scripts/build.mjs']) !== 0) {
    console.error('test: the build failed');
    process.exit(1);
  }
}

for (const layer of steps.filter((s) => !CHECKS.includes(s))) {
  const { dir, concurrency, timeoutMs } = LAYERS[layer];
  const files = findTests(dir);
  const tap = join('.artifacts', `${layer}.tap`);
  console.log(`\n=== ${layer}: ${files.length} file(s) ===`);
  const code = run(process.execPath, [
    '--import',
    'tsx',
    '--test',
    `--test-concurrency=${concurrency}`,
    `--test-timeout=${timeoutMs}`,
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tap}`,
    ...files,
  ]);
  const text = readFileSync(tap, 'utf8');
  const count = (k) => Number(/^# (\w+) (\d+)$/gm.exec(text) && (text.match(new RegExp(`^# ${k} (\\d+)$`, 'm'))?.[1] ?? 0));
  const pass = count('pass');
  const fail = count('fail') + count('cancelled');
  const bad = code !== 0 || fail > 0 || pass === 0;
  summary.push({ layer, pass, fail, note: pass === 0 ? 'ran no test' : code !== 0 && fail === 0 ? `runner exited ${code}` : '' });
  failed ||= bad;
}

console.log('\n=== summary ===');
for (const s of summary) console.log(`${s.layer.padEnd(8)} pass ${String(s.pass).padStart(4)}  fail ${String(s.fail).padStart(3)}  ${s.note}`);
console.log(failed ? 'FAILED' : 'ALL PASSED');
process.exit(failed ? 1 : 0);
