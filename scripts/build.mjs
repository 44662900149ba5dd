// Bundles the extension, the engine, the CLI and the webview apps with esbuild, and compiles
// our WebAssembly AdamW kernel (assembly/ → dist/kernels.wasm, run by the ONNX Runtime engine's
// arena, src/core/train/ort/arena.ts).
// Heavy runtime libraries stay external: they load from node_modules at run time (and ship in
// the .vsix), so activation never pulls them in. tfjs is required only where the tfjs engine is
// chosen: the modules that use it are reached through `await import()`, which esbuild turns into
// lazily initialised modules (test/unit/processes/noTfjs.test.ts checks the default path).
// Usage: node scripts/build.mjs [--watch | --kernels (only dist/kernels.wasm, for benchmarks)]
import asc from 'assemblyscript/asc';
import * as esbuild from 'esbuild';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

const watch = process.argv.includes('--watch');
const kernelsOnly = process.argv.includes('--kernels');
const WEBVIEW_APPS = readdirSync('webview', { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(`webview/${d.name}/main.ts`))
  .map((d) => d.name);
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
// Runtime dependencies are loaded from node_modules; dev-only ones get bundled.
const external = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {})];

// tfjs-core's CommonJS entry registers no gradients; its ESM `register_all_gradients` module
// does. Node cannot require() that ESM file at run time, so bundle it (converted to CJS) while
// the rest of tfjs-core stays external. Its registries are process-global, so they are shared.
const bundleTfjsGradients = {
  name: 'bundle-tfjs-gradients',
  setup(build) {
    build.onResolve({ filter: /^@tensorflow\/tfjs-core\/dist\/register_all_gradients$/ }, () => ({
      path: require.resolve('@tensorflow/tfjs-core/dist/register_all_gradients.js'),
    }));
  },
};

const node = {
  plugins: [bundleTfjsGradients],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  logLevel: 'warning',
  external,
};

const builds = [
  { ...node, entryPoints: { extension: 'src/extension/extension.ts' }, outdir: 'dist', external: [...external, 'vscode'] },
  { ...node, entryPoints: { engine: 'src/engine/main.ts', cli: 'src/cli/main.ts' }, outdir: 'dist' },
  {
    // Every webview app: webview/<app>/main.ts → dist/webview/<app>.js.
    entryPoints: Object.fromEntries(WEBVIEW_APPS.map((app) => [app, `webview/${app}/main.ts`])),
    outdir: 'dist/webview',
    bundle: true,
    platform: 'browser',
    target: 'chrome120',
    format: 'iife',
    sourcemap: true,
    minify: !watch,
    logLevel: 'warning',
  },
];

/**
 * assembly/ → dist/kernels.wasm. The module imports the arena's memory and must not write to it
 * on its own: no data segments, globals or start function (a segment would land on the
 * training buffers at instantiation), and no import but that memory.
 */
async function buildKernels() {
  const out = 'dist/kernels.wasm';
  let bytes;
  const { error, stderr } = await asc.main(
    ['assembly/index.ts', '-O3', '--noAssert', '--runtime', 'stub', '--importMemory', '--use', 'abort=', '--enable', 'simd', '--outFile', out],
    { writeFile: (name, contents) => void (bytes = contents) }, // checked before it is written
  );
  if (error || !bytes) throw new Error(`asc: ${error?.message ?? 'no output'}\n${stderr.toString()}`);
  const imports = WebAssembly.Module.imports(new WebAssembly.Module(bytes));
  if (imports.length !== 1 || imports[0].module !== 'env' || imports[0].name !== 'memory') {
    throw new Error(`${out}: expected env.memory as its only import, got ${JSON.stringify(imports)}`);
  }
  const FORBIDDEN = { 6: 'global', 8: 'start', 11: 'data', 12: 'data count' };
  for (let at = 8; at < bytes.length;) {
    const id = bytes[at++];
    let size = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = bytes[at++];
      size |= (byte & 0x7f) << shift;
      if (!(byte & 0x80)) break;
    }
    if (id in FORBIDDEN) throw new Error(`assembly/: the module has a ${FORBIDDEN[id]} section (it would write into the arena's memory); not written to ${out}`);
    at += size;
  }
  writeFileSync(out, bytes);
}

mkdirSync('dist/webview', { recursive: true });
await buildKernels();
if (kernelsOnly) process.exit(0);
// Each app's stylesheet is media/<app>.css.
const copyCss = () => {
  for (const name of WEBVIEW_APPS) if (existsSync(`media/${name}.css`)) cpSync(`media/${name}.css`, `dist/webview/${name}.css`);
};

if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
  copyCss();
  console.log('esbuild: watching…');
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
  copyCss();
}
