import '@testing-library/jest-dom/vitest';
import { cleanup, configure } from '@testing-library/react';
import { afterEach } from 'vitest';

// findBy*/waitFor wait up to 4 s (default 1 s): under a loaded CI machine a
// debounced request and its render can take longer than a second.
configure({ asyncUtilTimeout: 4000 });

afterEach(() => cleanup());
