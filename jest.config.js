// Two projects: fast unit specs next to the code, and e2e specs in test/ that boot the real
// application over HTTP against real databases. The e2e project compiles with the Swagger CLI
// plugin, exactly as `nest build` does, so the OpenAPI document under test is the shipped one.
const swaggerPlugin = { path: '<rootDir>/test/swagger-transformer.js' };

/** @type {import('jest').Config} */
module.exports = {
  globalSetup: '<rootDir>/test/helpers/global-setup.ts',
  globalTeardown: '<rootDir>/test/helpers/global-teardown.ts',
  projects: [
    {
      displayName: 'unit',
      rootDir: '.',
      testMatch: ['<rootDir>/src/**/*.spec.ts'],
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': ['ts-jest', { isolatedModules: true }] },
    },
    {
      displayName: 'e2e',
      rootDir: '.',
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
      testEnvironment: 'node',
      testTimeout: 60_000,
      transform: {
        '^.+\\.ts$': ['ts-jest', { astTransformers: { before: [swaggerPlugin] } }],
      },
    },
  ],
};
