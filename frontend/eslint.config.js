// ESLint's flat config: the recommended rules on every script of static/ (make jscheck).
import js from "@eslint/js";
import globals from "globals";

export default [
  js.configs.recommended,
  {
    files: ["static/**/*.js"],
    languageOptions: { ecmaVersion: 2019, sourceType: "module", globals: globals.browser },
    linterOptions: { reportUnusedDisableDirectives: "error" },
  },
  {
    // Service workers are classic scripts with their own global scope.
    files: ["static/**/*-sw.js"],
    languageOptions: { sourceType: "script", globals: globals.serviceworker },
  },
];
