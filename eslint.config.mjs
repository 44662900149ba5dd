// ESLint (flat config): typescript-eslint's recommended rules on every TypeScript file, and the
// project's layers as boundaries (see ../shared/DESIGN.md):
//   protocol  imports nothing of ours (message and metric types shared by every side);
//   core      imports core and protocol, never vscode (the same code runs in the CLI and engine);
//   engine    imports engine, core and protocol;
//   cli       imports cli, core and protocol;
//   extension imports extension and protocol (heavy work lives behind the engine);
//   webview   imports its own app, webview/shared and protocol.
// `vscode` is imported only by the extension. Run with `npm run lint` (part of `npm test`).
import js from '@eslint/js';
import boundaries from 'eslint-plugin-boundaries';
import tseslint from 'typescript-eslint';

const LAYERS = [
  { type: 'protocol', pattern: 'src/protocol' },
  { type: 'core', pattern: 'src/core' },
  { type: 'engine', pattern: 'src/engine' },
  { type: 'cli', pattern: 'src/cli' },
  { type: 'extension', pattern: 'src/extension' },
  { type: 'webview', pattern: 'webview' },
];

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'node_modules/**', '.vscode-test/**', '.artifacts/**', 'assembly/**', 'demo-project/**', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'separate-type-imports' }],
      eqeqeq: ['error', 'always'],
      'no-console': 'off',
    },
  },
  {
    files: ['src/**/*.ts', 'webview/**/*.ts'],
    plugins: { boundaries },
    settings: {
      'boundaries/elements': LAYERS,
      'import/resolver': { node: { extensions: ['.ts'] } },
    },
    rules: {
      'boundaries/dependencies': [
        'error',
        {
          default: 'disallow',
          message: 'the {{from.type}} layer must not import the {{to.type}} layer (the layers are in eslint.config.mjs)',
          policies: [
            { from: { element: { type: 'protocol' } }, allow: { to: { element: { type: 'protocol' } } } },
            { from: { element: { type: 'core' } }, allow: { to: { element: { types: { anyOf: ['core', 'protocol'] } } } } },
            { from: { element: { type: 'engine' } }, allow: { to: { element: { types: { anyOf: ['engine', 'core', 'protocol'] } } } } },
            { from: { element: { type: 'cli' } }, allow: { to: { element: { types: { anyOf: ['cli', 'core', 'protocol'] } } } } },
            { from: { element: { type: 'extension' } }, allow: { to: { element: { types: { anyOf: ['extension', 'protocol'] } } } } },
            { from: { element: { type: 'webview' } }, allow: { to: { element: { types: { anyOf: ['webview', 'protocol'] } } } } },
            // Packages and Node's modules: any layer (vscode: below).
            { allow: { to: { module: { origin: 'external' } } } },
            { allow: { to: { module: { origin: 'core' } } } },
          ],
        },
      ],
    },
  },
  {
    files: ['src/protocol/**/*.ts', 'src/core/**/*.ts', 'src/engine/**/*.ts', 'src/cli/**/*.ts', 'webview/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [{ name: 'vscode', message: 'Only src/extension/ imports vscode.' }] }] },
  },
);
