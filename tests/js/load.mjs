// Loads an Automerge document file with the JavaScript implementation and prints its root as
// JSON: the cross-implementation check of `lingong post export` (tests/tests/automerge_js.rs).
import * as A from "@automerge/automerge";
import { readFileSync } from "node:fs";

const doc = A.load(new Uint8Array(readFileSync(process.argv[2])));
process.stdout.write(JSON.stringify(doc));
