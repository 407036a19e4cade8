// Two projects: `unit` never touches a cluster; `integration` shares one real
// control plane and Prometheus per run (started in globalSetup).
const common = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    // Keep `.ts` import specifiers as written: global setup runs on Node's own
    // loader, which executes the sources with type stripping.
    '^.+\\.ts$': [
      'ts-jest',
      {
        useESM: true,
        tsconfig: {
          target: 'es2024',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          isolatedModules: true,
          verbatimModuleSyntax: true,
          allowImportingTsExtensions: true,
          rewriteRelativeImportExtensions: false,
          sourceMap: true,
        },
      },
    ],
  },
};

export default {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/integration/global-setup.ts',
      setupFilesAfterEnv: ['<rootDir>/test/integration/hook-timeouts.ts'],
      globalTeardown: '<rootDir>/test/integration/global-teardown.ts',
      slowTestThreshold: 60,
    },
  ],
  coverageProvider: 'v8',
  // The decision core is the heart of Fledge: make test gaps there fail the build.
  coverageThreshold: { './src/engine/': { branches: 95 } },
  coverageReporters: ['text-summary', 'json-summary'],
};
