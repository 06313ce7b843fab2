// ESLint flat config: typescript-eslint's type-aware rules over everything tsc compiles.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'data/**', '.tmp/**', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Interface implementations (stores, readers) are async by contract even when one of them needs no await.
      '@typescript-eslint/require-await': 'off',
      // Rethrowing a caught `unknown` is fine; constructing a non-Error is not.
      '@typescript-eslint/only-throw-error': ['error', { allowThrowingUnknown: true }],
      // Drivers and codecs load lazily with a synchronous require() inside the branch that needs them.
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    // Tests and benches read untyped JSON from peers and CLIs: unsafe-any access is their job.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
);
