// Two projects: fast unit specs next to the code, and e2e specs in test/ that boot the real
// application over HTTP against real databases. The e2e project compiles with the Swagger CLI
// plugin, exactly as `nest build` does, so the OpenAPI document under test is the shipped one.
const swaggerPlugin = { path: '<rootDir>/test/swagger-transformer.js' };

// Jest resolves modules itself, so the better-sqlite3 choice of src/prisma/sqlite-driver.ts
// (13 on Node 22+, 11 below) is repeated here for modules loaded inside tests.
const nodeMajor = Number(process.versions.node.split('.')[0]);
let moduleNameMapper = {};
if (nodeMajor >= 22) {
  try {
    require.resolve('better-sqlite3-napi');
    moduleNameMapper = { '^better-sqlite3$': 'better-sqlite3-napi' };
  } catch {
    // not installed: stay on better-sqlite3
  }
}

/** @type {import('jest').Config} */
module.exports = {
  // Global only: Jest ignores testTimeout inside a project entry.
  testTimeout: 60_000,
  globalSetup: '<rootDir>/test/helpers/global-setup.ts',
  globalTeardown: '<rootDir>/test/helpers/global-teardown.ts',
  projects: [
    {
      displayName: 'unit',
      rootDir: '.',
      testMatch: ['<rootDir>/src/**/*.spec.ts'],
      testEnvironment: 'node',
      moduleNameMapper,
      // Unit specs are transpiled file by file (fast); e2e specs keep full type information.
      transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.unit.json' }] },
    },
    {
      displayName: 'e2e',
      rootDir: '.',
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
      testEnvironment: 'node',
      moduleNameMapper,
      transform: {
        '^.+\\.ts$': ['ts-jest', { astTransformers: { before: [swaggerPlugin] } }],
      },
    },
  ],
};
