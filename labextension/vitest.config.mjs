import { defineConfig } from 'vitest/config';

// The panel's pure logic (protocol, view model) runs in node: no browser needed.
export default defineConfig({
  test: {
    include: ['src/__tests__/**/*.spec.ts'],
    environment: 'node',
    watch: false
  }
});
