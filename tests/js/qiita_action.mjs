// qiita-cli's own code, offline: what its publish workflow does to a qiita-cli folder, with a JSON
// file standing in for Qiita. Installed from .setup/npm by `.setup/install test` (@qiita/qiita-cli,
// pinned to the version the publish Action installs).
//
//   node tests/js/qiita_action.mjs check   ROOT           validators of `qiita publish` on every file
//   node tests/js/qiita_action.mjs status  ROOT           each file: name, id, modified, ignorePublish
//   node tests/js/qiita_action.mjs publish ROOT SERVER    `qiita publish --all` against SERVER (JSON)
//
// ROOT is the folder that holds public/ (the Action's `root`). `publish` runs the steps of qiita-cli's
// publish command with the server's answers read from and written to SERVER:
//   1. sync: the server's articles (private ones only with includePrivate) go through the real
//      FileSystemRepo.saveItems, which writes public/.remote/ (and a local file that matches it);
//   2. every file not ignorePublish that is modified or has no id is validated exactly as publish
//      validates (front matter types, item rules, "older than Qiita's copy"): any error stops
//      everything, as it does there;
//   3. each one is posted (a new id: FileSystemRepo.updateItemUuid writes it back) or updated (its
//      id), and the server's copy is saved over the file and under .remote/ (FileSystemRepo.saveItem).
// It prints one JSON object: {"posted": [[name, id]...], "updated": [[name, id]...]} (or the errors).
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { createRequire } from "node:module";

const [command, root, serverFile] = process.argv.slice(2);
if (!command || !root || (command === "publish" && !serverFile)) {
  console.error("usage: node tests/js/qiita_action.mjs check|status|publish ROOT [SERVER.json]");
  process.exit(2);
}
const packages = createRequire(new URL("../../.setup/npm/package.json", import.meta.url));
let qiita;
try {
  qiita = {
    repo: packages("@qiita/qiita-cli/dist/lib/file-system-repo"),
    types: packages("@qiita/qiita-cli/dist/lib/check-frontmatter-type"),
    rules: packages("@qiita/qiita-cli/dist/lib/validators/item-validator"),
  };
} catch {
  console.error("qiita_action: @qiita/qiita-cli is not installed in .setup/npm: run `.setup/install test`");
  process.exit(3);
}

const repo = await qiita.repo.FileSystemRepo.build({ dataRootDir: root });
const problems = (item) => [...qiita.types.checkFrontmatterType(item), ...qiita.rules.validateItem(item)];

if (command === "check") {
  const found = {};
  for (const item of await repo.loadItems()) found[item.name] = problems(item);
  console.log(JSON.stringify(found));
  process.exit(Object.values(found).some((errors) => errors.length) ? 1 : 0);
}

if (command === "status") {
  const items = (await repo.loadItems()).map((item) => ({
    name: item.name, id: item.id, modified: item.modified, ignorePublish: item.ignorePublish,
  }));
  console.log(JSON.stringify(items));
  process.exit(0);
}

// publish: the server's state is {"items": {id: item as Qiita's API returns it}}
const server = existsSync(serverFile) ? JSON.parse(readFileSync(serverFile, "utf8")) : { items: {} };
const settings = existsSync(join(root, "qiita.config.json"))
  ? JSON.parse(readFileSync(join(root, "qiita.config.json"), "utf8")) : {};
const known = Object.values(server.items).filter((item) => settings.includePrivate || !item.private);
await repo.saveItems(known, false);

const targets = (await repo.loadItems()).filter((item) => item.ignorePublish !== true && (item.modified || item.id === null));
const refused = {};
for (const item of targets) {
  const errors = problems(item);
  if (item.isOlderThanRemote) errors.push("older than Qiita's copy");
  if (errors.length) refused[item.name] = errors;
}
if (Object.keys(refused).length) {
  console.log(JSON.stringify({ refused }));
  process.exit(1);
}
const done = { posted: [], updated: [] };
let clock = Date.parse(server.clock || "2026-01-01T00:00:00Z");
for (const item of targets) {
  clock += 60_000;
  const id = item.id || randomBytes(10).toString("hex");
  const answer = {
    id, title: item.title, body: item.rawBody, private: item.secret, slide: item.slide,
    tags: item.tags.map((name) => ({ name, versions: [] })), updated_at: new Date(clock).toISOString(),
    organization_url_name: item.organizationUrlName, posting_campaign_uuid: item.postingCampaignUuid ?? null,
  };
  server.items[id] = answer;
  if (item.id) {
    done.updated.push([item.name, id]);
  } else {
    await repo.updateItemUuid(item.name, id);
    done.posted.push([item.name, id]);
  }
  await repo.saveItem(answer, false, true);
}
server.clock = new Date(clock).toISOString();
writeFileSync(serverFile, JSON.stringify(server, null, 1));
console.log(JSON.stringify(done));
