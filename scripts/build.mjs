// Bundles the extension, the engine, the CLI and the webview apps with esbuild.
// Heavy runtime libraries stay external: they load from node_modules at run time (and ship in
// the .vsix), so activation never pulls them in. Usage: node scripts/build.mjs [--watch]
import * as esbuild from 'esbuild';
import { cpSync, mkdirSync, readFileSync } from 'node:fs';

const watch = process.argv.includes('--watch');
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
// Runtime dependencies are loaded from node_modules; dev-only ones get bundled.
const external = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {})];

const node = {
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
    entryPoints: { sidebar: 'webview/sidebar/main.ts' },
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

mkdirSync('dist/webview', { recursive: true });
const copyCss = () => {
  for (const name of ['sidebar']) cpSync(`media/${name}.css`, `dist/webview/${name}.css`);
};

if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
  copyCss();
  console.log('esbuild: watching…');
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
  copyCss();
}
