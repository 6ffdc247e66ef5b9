import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';

/**
 * The layers of src/ (ARCHITECTURE.md), bottom up: common; spec; dag; kube and report (side by
 * side); engine; action and cli (side by side). A folder imports only from the layers below it.
 */
const LAYERS = {
  common: ['spec', 'dag', 'kube', 'report', 'engine', 'action', 'cli'],
  spec: ['dag', 'kube', 'report', 'engine', 'action', 'cli'],
  dag: ['kube', 'report', 'engine', 'action', 'cli'],
  kube: ['report', 'engine', 'action', 'cli'],
  report: ['kube', 'engine', 'action', 'cli'],
  engine: ['action', 'cli'],
  action: ['cli'],
  cli: ['action'],
};
/** Packages that talk to the world (the cluster, the runner): only the layers that do may import them. */
const WORLD = {
  common: ['@kubernetes/client-node', '@actions/core', '@actions/github'],
  spec: ['@kubernetes/client-node', '@actions/core', '@actions/github'],
  dag: ['@kubernetes/client-node', '@actions/core', '@actions/github'],
  kube: ['@actions/core', '@actions/github'],
  report: ['@kubernetes/client-node'],
  engine: ['@actions/core', '@actions/github'],
};

const layerRules = Object.entries(LAYERS).map(([layer, above]) => ({
  files: [`src/${layer}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          {
            group: above.flatMap((l) => [`../${l}/*`, `../../${l}/*`, `**/src/${l}/*`]),
            message: `src/${layer} may not import from ${above.map((l) => `src/${l}`).join(', ')}: see the layers in ARCHITECTURE.md.`,
          },
          ...((WORLD[layer] ?? []).length > 0
            ? [{ group: WORLD[layer], message: `src/${layer} does not talk to the world through this package: see the layers in ARCHITECTURE.md.` }]
            : []),
        ],
      },
    ],
  },
}));

export default tseslint.config(
  { ignores: ['dist/**', 'lib/**', 'node_modules/**', 'coverage/**', '.tmp/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly',
        setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly',
        setImmediate: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly',
        TextEncoder: 'readonly', TextDecoder: 'readonly', fetch: 'readonly', structuredClone: 'readonly',
        queueMicrotask: 'readonly', performance: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    // The engine is built on promises it does not always await: each one must be handled.
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
  {
    // No import cycles in the product (a cycle is a layer that leaks).
    files: ['src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js'] })],
    },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
  },
  ...layerRules,
);
