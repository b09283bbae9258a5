// Set-up file of every test project: what scratchDir made in a test file goes when that file ends.
import { afterAll } from 'vitest';
import { removeScratchDirs } from './scratch.js';

afterAll(removeScratchDirs);
