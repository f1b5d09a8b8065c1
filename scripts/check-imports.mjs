#!/usr/bin/env node
// Import-rule check: layers import only downward (see docs/adr/0001-layers.md). Placeholder until the foundation lands.
console.log("import rules: ok (placeholder)");
