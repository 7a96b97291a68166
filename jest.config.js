/** Jest runs TypeScript through SWC; NestJS 12 ships ESM, so node_modules are transformed too. */
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
    },
    module: { type: 'commonjs' },
  },
];
module.exports = {
  testEnvironment: 'node',
  // deploy/aws is a package of its own (the CDK app); its test runs here, on its own node_modules.
  roots: ['<rootDir>/test', '<rootDir>/deploy/aws/test'],
  testMatch: ['**/*.spec.ts'],
  transform: { '^.+\\.(t|j|mj|cj)s$': swc },
  // aws-cdk-lib is CommonJS and large: transforming it would cost more than the test itself.
  transformIgnorePatterns: ['/deploy/aws/node_modules/'],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
  setupFiles: ['<rootDir>/test/support/jest-setup.ts'],
  testTimeout: 60000,
  maxWorkers: 2,
};
