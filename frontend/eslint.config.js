// ESLint's flat config: the recommended rules on every script of static/ (make jscheck).
import js from "@eslint/js";
import globals from "globals";

export default [
  js.configs.recommended,
  {
    files: ["static/**/*.js"],
    // ES2020 parses dynamic import() (Safari 11.1+, the directory's map loads on demand); the
    // rest of ES2020's syntax older Safari lacks (iOS 12-13.3) is refused by name below.
    languageOptions: { ecmaVersion: 2020, sourceType: "module", globals: globals.browser },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      "no-restricted-syntax": [
        "error",
        { selector: "ChainExpression", message: "Optional chaining (?.) needs iOS 13.4: test the value instead." },
        { selector: "LogicalExpression[operator='??']", message: "?? needs iOS 13.4: use a test or ||." },
        { selector: "Literal[bigint]", message: "BigInt needs iOS 14." },
      ],
    },
  },
  {
    // Service workers are classic scripts with their own global scope.
    files: ["static/**/*-sw.js"],
    languageOptions: { sourceType: "script", globals: globals.serviceworker },
  },
];
