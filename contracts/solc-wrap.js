#!/usr/bin/env node
// A `solc` for forge backed by solc-js from npm, so forge never downloads a compiler.
// forge calls `solc --version` and `solc --standard-json` (input on stdin).
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require(path.join(__dirname, "..", "node_modules", "solc"));

const args = process.argv.slice(2);
if (args.includes("--version")) {
  const v = solc.version().replace(/\.Emscripten.*$/, "");
  fs.writeSync(1, `solc, the solidity compiler commandline interface\nVersion: ${v}.Linux.g++\n`);
  process.exit(0);
}
if (!args.includes("--standard-json")) {
  fs.writeSync(2, "solc-wrap supports only --version and --standard-json\n");
  process.exit(1);
}
const input = fs.readFileSync(0, "utf8");
const roots = args.filter((a, i) => args[i - 1] === "--base-path" || args[i - 1] === "--include-path" || args[i - 1] === "--allow-paths");
function findImports(p) {
  for (const root of [process.cwd(), ...roots]) {
    const full = path.resolve(root, p);
    if (fs.existsSync(full)) return { contents: fs.readFileSync(full, "utf8") };
  }
  return { error: `not found: ${p}` };
}
const out = solc.compile(input, { import: findImports });
// process.stdout.write + exit can truncate large outputs; write synchronously.
const buf = Buffer.from(out, "utf8");
let off = 0;
while (off < buf.length) off += fs.writeSync(1, buf, off, buf.length - off);
