// Render a Markdown file to HTML with zenn-markdown-html, Zenn's own renderer (the one zenn.dev
// and zenn-cli use), installed from .setup/npm by `.setup/install test`.
//
//   node tests/js/render_zenn.mjs ARTICLE.md > article.html
//
// The file is the article's body: strip the front matter first, as zenn-cli does.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const [file] = process.argv.slice(2);
if (!file) {
  console.error("usage: node tests/js/render_zenn.mjs FILE.md");
  process.exit(2);
}
// resolved from .setup/npm, where `npm ci` put it, whatever folder this runs from
const packages = createRequire(new URL("../../.setup/npm/package.json", import.meta.url));
let entry;
try {
  entry = packages.resolve("zenn-markdown-html");
} catch {
  console.error("render_zenn: zenn-markdown-html is not installed in .setup/npm: run `.setup/install test`");
  process.exit(3);
}
const { default: markdownToHtml } = await import(pathToFileURL(entry).href);
process.stdout.write(await markdownToHtml(readFileSync(file, "utf8")));
