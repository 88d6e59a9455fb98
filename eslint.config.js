// Lint: typescript-eslint's strict type-checked rules (floating promises above all: an un-awaited write
// or session is a silent wrong answer); formatting is prettier's. Where a rule is relaxed, the reason is
// beside it.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/*.tmp.ts', '**/*.tmp.mjs', '**/.bundle-test-*/**', 'shrink-out/**'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // node:test's test() returns a promise the runner awaits itself.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] }] },
      ],
      // noUncheckedIndexedAccess makes every index possibly undefined; `!` is how code says "checked above".
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Numbers and booleans read as themselves in messages.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      // Decoded protobuf, parsed JSON and tfjs objects do not honour their declared types (a "required"
      // field can be absent): the checks the types call unnecessary are what keep bad input from passing.
      '@typescript-eslint/no-unnecessary-condition': 'off',
      '@typescript-eslint/no-unnecessary-type-conversion': 'off',
      // onnx's enums are plain numbers on the wire and in protobufjs's objects; plain objects stand in for
      // its message classes everywhere (the codec accepts both).
      '@typescript-eslint/no-unsafe-enum-comparison': 'off',
      '@typescript-eslint/no-unsafe-enum-assignment': 'off',
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // An async function that does not await yet is still a promise-returning contract (Pass.run, a data loader).
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // The onnx message types as protobufjs declares them: namespaces of interfaces, static codec methods.
    files: ['packages/core/src/onnx/proto.ts'],
    rules: {
      '@typescript-eslint/no-namespace': 'off',
      '@typescript-eslint/no-empty-object-type': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    // onnx-proto's declarations name `Long` without importing it: typescript-eslint sees int64 fields as
    // error types where tsc sees number | Long. The code converts them through toNumber.
    files: ['packages/core/src/onnx/**', 'packages/core/src/tfjs/convert/onnx-attrs.ts'],
    rules: { '@typescript-eslint/no-unsafe-argument': 'off', '@typescript-eslint/no-unsafe-assignment': 'off' },
  },
  {
    // Tests read JSON reports and CLI output as `any` on purpose: the assertion is the type check. The
    // fuzzer, the hardening harness and the benchmarks poke at objects, streams and methods the way tests do.
    files: ['**/*.test.ts', '**/*.fixture.ts', 'packages/cli/src/fuzz/**', 'packages/cli/src/hardening/**', 'bench/**'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-misused-spread': 'off',
      '@typescript-eslint/no-misused-promises': 'off',
      '@typescript-eslint/no-dynamic-delete': 'off',
      '@typescript-eslint/no-unused-expressions': 'off',
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/prefer-promise-reject-errors': 'off',
      '@typescript-eslint/no-base-to-string': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
      '@typescript-eslint/restrict-plus-operands': 'off',
      'no-control-regex': 'off',
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: { Buffer: 'readonly', process: 'readonly', console: 'readonly', URL: 'readonly', performance: 'readonly' },
    },
  },
  prettier,
);
