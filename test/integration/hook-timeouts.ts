import { jest } from '@jest/globals';

// Hooks here start operators, controllers and servers against a real control plane: on a
// loaded 2-core machine that can take longer than Jest's 5 s default, which is meant for unit
// tests. Tests that need longer still say so themselves.
jest.setTimeout(60_000);
