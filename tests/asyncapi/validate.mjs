// Validates an AsyncAPI document with @asyncapi/parser, the AsyncAPI
// initiative's reference parser (schema validation plus its Spectral rules).
// Usage: node validate.mjs FILE. Prints every diagnostic; exits 1 on any
// error-level diagnostic or if the document does not parse.
import { readFileSync } from 'node:fs';
import { Parser, DiagnosticSeverity } from '@asyncapi/parser';

const file = process.argv[2];
if (!file) {
  console.error('usage: node validate.mjs FILE');
  process.exit(2);
}
const parser = new Parser();
const { document, diagnostics } = await parser.parse(readFileSync(file, 'utf8'));
const names = { 0: 'error', 1: 'warning', 2: 'information', 3: 'hint' };
for (const d of diagnostics) {
  console.log(`${names[d.severity]} ${d.code} at /${d.path.join('/')}: ${d.message}`);
}
const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
if (!document || errors.length > 0) {
  console.error(`${errors.length} error(s); the document is not valid AsyncAPI`);
  process.exit(1);
}
console.log(`valid AsyncAPI ${document.version()}: ${document.channels().length} channels, ` +
  `${document.operations().length} operations, ${document.allMessages().length} messages`);
