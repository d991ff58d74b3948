// ESLint for the gate's browser scripts (static/banner/*.js): each file is a classic script, a
// function expression the gate calls with its configuration, run in every page before the
// page's own scripts. `make lint` runs this beside `tsc -p jsconfig.json` (types from JSDoc).
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["node_modules/", ".venv/", "build/", "dist/", "htmlcov/", "demo_site/", "tests/", "bench/"] },
  js.configs.recommended,
  {
    files: ["static/**/*.js"],
    languageOptions: {
      ecmaVersion: 2020,
      sourceType: "script",
      globals: { ...globals.browser },
    },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      eqeqeq: "error",
      "no-implicit-globals": "error",
      "no-undef": "error",
      // `catch (error) { /* why it is ignored */ }` is the house form for best-effort calls.
      "no-unused-vars": ["error", { caughtErrors: "none" }],
      "no-var": "error",
      "prefer-const": "error",
    },
  },
  {
    files: ["eslint.config.mjs"],
    languageOptions: { sourceType: "module", globals: { ...globals.node } },
  },
];
