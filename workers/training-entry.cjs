// Entry of the training sandbox when running from TypeScript sources (tsx, vitest): a CommonJS file
// that requires the TypeScript processor, so it loads whether tsx registered its import() hook or
// only its require() hook (all it installs inside worker threads on Node 20). Compiled builds load
// dist/workers/training-processor.js directly (workers/training-worker.ts decides).
module.exports = require('./training-processor.ts');
