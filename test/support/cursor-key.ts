/** One cursor key for every store a test process builds, as one installation has one. */
import { fixedCursorKey } from '../../lambdas/adapters/cursor-key';

export const TEST_CURSOR_KEY = fixedCursorKey();
