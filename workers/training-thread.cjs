// Entry of the training sandbox when running from TypeScript sources (tsx, vitest). BullMQ loads a
// sandboxed processor with import(), but on Node 20 tsx installs only its require() hook inside
// worker threads, so the TypeScript processor is required from here. Compiled builds load
// dist/workers/training-processor.js directly (workers/training-worker.ts decides).
module.exports = require('./training-processor.ts');
