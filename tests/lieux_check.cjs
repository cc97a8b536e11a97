// Reads a JSON list of rows of the national « lieux de médiation numérique » schema (as our CSV
// export writes them: list fields joined by "|") on standard input, and passes each through the
// ANCT's own library (@gouvfr-anct/lieux-de-mediation-numerique, the schema's reference
// implementation, an npm devDependency of frontend/). Prints a JSON list of the refusals:
// [{"row": index, "error": class name, "message": text}].
const path = require("node:path");
const lib = require(path.join(__dirname, "..", "frontend", "node_modules", "@gouvfr-anct", "lieux-de-mediation-numerique"));

let input = "";
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const rows = JSON.parse(input);
  const refusals = [];
  rows.forEach((row, index) => {
    try {
      lib.fromSchemaLieuDeMediationNumerique(row);
    } catch (error) {
      refusals.push({ row: index, error: error.constructor.name, message: error.message });
    }
  });
  process.stdout.write(JSON.stringify(refusals));
});
