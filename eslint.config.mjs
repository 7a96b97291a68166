// ESLint over everything we write: src, web, test, bench and scripts (npm run lint; scripts/test.sh
// runs it before Jest). TypeScript is linted with type information (typescript-eslint's
// recommended type-checked rules), through the two programs the type check already builds
// (tsconfig.check.json for the service, tests, benches and scripts; web/tsconfig.json for the
// console), so lint and tsc agree on what a file sees. Each rule turned off or down below says why.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The few Node globals our plain scripts use (the `globals` package is not a dependency).
const nodeGlobals = Object.fromEntries(
  ['require', 'module', 'exports', 'process', 'console', '__dirname', '__filename', 'Buffer', 'URL', 'setTimeout', 'clearTimeout'].map((name) => [
    name,
    'readonly',
  ]),
);

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'coverage/**',
      'test/artifacts/**',
      'bench/results/**',
      // The CDK app is a package of its own with its own dependencies and checks.
      'deploy/**',
      // Generated from the served OpenAPI document (npm run api-types): not written by hand.
      'web/src/api/openapi.gen.ts',
      'web/dist/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        project: ['./tsconfig.check.json', './web/tsconfig.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // A comment above a grouped case (the HTTP status map) is not a fall-through.
      'no-fallthrough': ['error', { allowEmptyCase: true }],
      // Steps, ports and Nest handlers implement Promise-returning contracts; an async method
      // with nothing to await is how one of them keeps its contract.
      '@typescript-eslint/require-await': 'off',
      // Values from JSON.parse, database rows and the API client are `any` where they enter, and
      // are checked there (ajv schemas, row mappers); the unsafe-* family would flag every use of
      // them after the check. Typing those entry points as `unknown` is the better fix, not done yet.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // Storable text, the audit hash and SNS checks match control characters on purpose.
      'no-control-regex': 'off',
      // Figures, parameters and report values are JSON of any type; where an object can arrive
      // the code JSON-stringifies it first, and String() on the rest is meant.
      '@typescript-eslint/no-base-to-string': 'off',
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        {
          allowAny: true,
          allowBoolean: true,
          allowNullish: true,
          allowNumber: true,
          allowRegExp: true,
          allow: [{ from: 'lib', name: ['URLSearchParams', 'URL'] }],
        },
      ],
      // React ignores what an event handler returns; an async onClick is the ordinary way.
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { attributes: false } }],
      // Unused names are a tsc error already (noUnusedLocals); this adds parameters, which
      // Nest handlers and step contracts keep for their shape: an underscore says "on purpose".
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
    },
  },
  {
    // Plain JavaScript (build scripts, Jest and Vite config) is outside both TypeScript programs.
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: nodeGlobals, sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Jest's expect(mock.method) passes a method unbound on purpose: it is only looked at.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/unbound-method': 'off' },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { sourceType: 'module' },
  },
);
