// The leaderboard page in headless Chromium, through a competition's life: driven by
// tests/e2e/browser.rs, which has started a devnet and created competition 1 with one entry.
//
//   node tests/browser/leaderboard.mjs <node URL> <anvil URL> <screenshot dir>
//
// Environment: CRUCIBLE_BIN (the crucible CLI), CRUCIBLE_HOME (the devnet's home),
// CHROMIUM (default /usr/bin/chromium). Prints one JSON document: what the page showed.
import { chromium } from "playwright-core";
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const [url, anvil, shots] = process.argv.slice(2);
const cli = process.env.CRUCIBLE_BIN;
const home = process.env.CRUCIBLE_HOME;
mkdirSync(shots, { recursive: true });

function crucible(...args) {
  const out = execFileSync(cli, [...args, "--home", home, "--json"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  return JSON.parse(out);
}

async function rows(page, selector) {
  return page.$$eval(selector, (trs) => trs.map((tr) => Array.from(tr.cells, (td) => td.textContent.trim())));
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
const result = {};
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  await page.goto(url);
  // A mark that a reload would erase.
  await page.evaluate(() => { window.__mark = "first load"; });
  const board = "#competition-1 table.leaderboard tbody tr";
  await page.waitForSelector(board, { timeout: 60000 });
  result.one_entry = await rows(page, board);
  await page.waitForFunction(() => document.querySelector("#competition-1 img.plot")?.complete);
  await page.screenshot({ path: join(shots, "1-one-entry-1280x800.png"), fullPage: true });

  // A second trainer submits: the page shows it without a reload.
  crucible("submit", "--competition", "1", "--model", "models/cnn/model.onnx", "--dev-account", "3");
  await page.waitForFunction((sel) => document.querySelectorAll(sel).length === 2, board, { timeout: 60000 });
  result.two_entries = await rows(page, board);
  result.reloaded_after_submit = (await page.evaluate(() => window.__mark)) !== "first load";
  await page.screenshot({ path: join(shots, "2-two-entries-1280x800.png"), fullPage: true });

  // The deadline passes; the sponsor reveals the test set; anyone finalizes; the winners
  // execute their vouchers on L1.
  const competition = crucible("competition", "show", "1");
  const chain = await (await fetch(anvil, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_getBlockByNumber", params: ["latest", false] }),
  })).json();
  const now = Number(BigInt(chain.result.timestamp));
  crucible("devnet", "time", String(competition.submission_deadline - now + 1));
  crucible("competition", "reveal", "1", "--dev-account", "1");
  crucible("competition", "finalize", "1", "--dev-account", "4");
  await page.waitForSelector("#competition-1 table.payouts tbody tr", { timeout: 60000 });
  await page.screenshot({ path: join(shots, "3-finalized-1280x800.png"), fullPage: true });
  result.executed = [
    crucible("execute", "--all-mine", "--dev-account", "2"),
    crucible("execute", "--all-mine", "--dev-account", "3"),
  ];
  const paid = "#competition-1 table.payouts tbody tr";
  await page.waitForFunction(
    (sel) => {
      const trs = document.querySelectorAll(sel);
      return trs.length > 0 && Array.from(trs).every((tr) => tr.querySelector("td.status")?.textContent.includes("executed"));
    },
    paid,
    { timeout: 120000 },
  );
  result.payouts = await rows(page, paid);
  result.final_board = await rows(page, board);
  result.status = await page.$eval("#competition-1", (el) => el.dataset.status);
  result.epochs = await rows(page, "#epochs tbody tr");
  result.reloaded = (await page.evaluate(() => window.__mark)) !== "first load";
  await page.screenshot({ path: join(shots, "4-paid-1280x800.png"), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: join(shots, "5-paid-phone-390.png") });
  await page.locator("#competition-1").screenshot({ path: join(shots, "6-competition-phone-390.png") });
  result.phone_overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
  result.errors = errors;
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
