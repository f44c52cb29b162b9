export { parseSampleCsv, parseFeatureRowsCsv } from './sample-csv.ts';
export { parseSampleJson, parseFeatureRowsJson, parseJsonUpload } from './json-upload.ts';
export { DEFAULT_INGEST_LIMITS, type IngestLimits, type IngestOptions } from './ingest-options.ts';
