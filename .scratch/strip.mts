import ts from 'typescript'
import { readFileSync } from 'node:fs'
const root = '/work/wt-16a'
const file = process.argv[2]
const cfg = ts.getParsedCommandLineOfConfigFile(root + '/tsconfig.json', {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} })!
const host = ts.createCompilerHost(cfg.options)
const orig = host.getSourceFile
host.getSourceFile = (name, lang, ...rest) => {
  if (name === file && process.argv[3] === 'strip') return ts.createSourceFile(name, readFileSync(name, 'utf8').replaceAll('@ts-expect-error', '@ts-expect-nothing'), lang)
  return orig.call(host, name, lang, ...rest)
}
const program = ts.createProgram({ rootNames: [file], options: { ...cfg.options, noEmit: true }, host })
for (const d of ts.getPreEmitDiagnostics(program)) {
  const pos = d.file ? d.file.getLineAndCharacterOfPosition(d.start!) : undefined
  console.log(d.file?.fileName.replace(root, ''), pos && pos.line + 1, 'TS' + d.code, ts.flattenDiagnosticMessageText(d.messageText, '\n').split('\n')[0].slice(0, 150))
}
