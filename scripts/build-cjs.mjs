#!/usr/bin/env node
// Builds the CommonJS copy of the library into dist/cjs (for `require('flash-mla-ts')`), from the
// same sources as the ES module build in dist/src. tsconfig.cjs.json holds the compiler options;
// `import.meta.url`, which CommonJS lacks, is rewritten to the file URL of the emitted module.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const configPath = join(root, 'tsconfig.cjs.json');

/** TS1343: `import.meta` in a CommonJS module; the transformer below removes every use. */
const IMPORT_META_IN_COMMONJS = 1343;

function isImportMetaUrl(node) {
  return (
    ts.isPropertyAccessExpression(node) &&
    ts.isMetaProperty(node.expression) &&
    node.expression.keywordToken === ts.SyntaxKind.ImportKeyword &&
    node.name.text === 'url'
  );
}

/** `import.meta.url` -> `require('node:url').pathToFileURL(__filename).href`. */
function importMetaUrlToCommonJs(context) {
  const f = context.factory;
  const replacement = () =>
    f.createPropertyAccessExpression(
      f.createCallExpression(
        f.createPropertyAccessExpression(
          f.createCallExpression(f.createIdentifier('require'), undefined, [
            f.createStringLiteral('node:url'),
          ]),
          'pathToFileURL',
        ),
        undefined,
        [f.createIdentifier('__filename')],
      ),
      'href',
    );
  return (sourceFile) => {
    const visit = (node) => {
      if (isImportMetaUrl(node)) return replacement();
      if (ts.isMetaProperty(node) && node.keywordToken === ts.SyntaxKind.ImportKeyword) {
        const { line } = sourceFile.getLineAndCharacterOfPosition(node.getStart(sourceFile));
        throw new Error(
          `${sourceFile.fileName}:${line + 1}: only import.meta.url has a CommonJS equivalent`,
        );
      }
      return ts.visitEachChild(node, visit, context);
    };
    return ts.visitNode(sourceFile, visit);
  };
}

const config = ts.getParsedCommandLineOfConfigFile(
  configPath,
  {},
  {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  },
);
const outDir = config.options.outDir;
rmSync(outDir, { recursive: true, force: true });

const program = ts.createProgram({ rootNames: config.fileNames, options: config.options });
const emitted = program.emit(undefined, undefined, undefined, false, {
  before: [importMetaUrlToCommonJs],
});
const diagnostics = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics].filter(
  (d) => d.code !== IMPORT_META_IN_COMMONJS,
);
if (diagnostics.length > 0) {
  const host = {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => root,
    getNewLine: () => '\n',
  };
  process.stderr.write(ts.formatDiagnosticsWithColorAndContext(diagnostics, host));
  process.exit(1);
}
// The package is "type": "module"; this marker makes Node load dist/cjs/**/*.js as CommonJS.
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'package.json'), `${JSON.stringify({ type: 'commonjs' }, null, 2)}\n`);
