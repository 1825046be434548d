// Invariant checks for node/: the same assert as protocol/, so one AssertionError type exists.
export { assert, AssertionError } from '../../protocol/assert.ts'
