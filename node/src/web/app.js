// The leaderboard page: renders GET /api/overview and refreshes it every two seconds.
"use strict";

const REFRESH_MS = 2000;
// The newest epochs listed one by one; older ones are summed up.
const EPOCHS_SHOWN = 12;

const esc = (v) =>
  String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

const short = (hex) => (hex && hex.length > 14 ? `${hex.slice(0, 8)}…${hex.slice(-6)}` : hex ?? "");

// A token amount (18 decimals) from its hex or decimal string.
function units(amount) {
  const v = BigInt(amount);
  const whole = v / 10n ** 18n;
  const frac = (v % 10n ** 18n).toString().padStart(18, "0").replace(/0+$/, "").slice(0, 6);
  return frac ? `${whole}.${frac}` : `${whole}`;
}

function score(ppm, metric) {
  return metric === "accuracy" || metric === "top5"
    ? `${(ppm / 1e4).toFixed(2)} %`
    : (ppm / 1e6).toFixed(6);
}

function when(seconds, now) {
  const iso = new Date(seconds * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  if (!now) return iso;
  const d = seconds - now;
  const mins = Math.round(Math.abs(d) / 60);
  const rel = mins < 1 ? "now" : d > 0 ? `in ${mins} min` : `${mins} min ago`;
  return `${iso} (${rel})`;
}

const badge = (cls, text) => `<span class="badge ${cls}">${esc(text)}</span>`;

function leaderboard(c) {
  if (c.leaderboard.length === 0) return `<p class="empty">No scored submission yet.</p>`;
  const rows = c.leaderboard
    .map(
      (r) => `<tr data-priority="${r.priority}">
        <td class="num">${r.rank}</td>
        <td class="mono" title="${esc(r.submitter)}">${esc(short(r.submitter))}</td>
        <td class="mono hide-narrow" title="${esc(r.model_cid)}">${esc(short(r.model_cid))}</td>
        <td class="num score">${esc(score(r.score_ppm, c.metric))}</td>
        <td class="num">${r.input_index ?? "–"}</td>
        <td>${r.provable ? badge("yes", "provable") : badge("no", "not yet")}</td>
      </tr>`,
    )
    .join("");
  return `<div class="scroll"><table class="leaderboard">
    <caption class="visually-hidden">Leaderboard of competition ${c.id}, best first</caption>
    <thead><tr><th scope="col" class="num">Rank</th><th scope="col">Submitter</th><th scope="col" class="hide-narrow">Model CID</th>
    <th scope="col" class="num">Score (${esc(c.metric)})</th><th scope="col" class="num">Input</th><th scope="col">Notice on L1</th></tr></thead>
    <tbody>${rows}</tbody></table></div>`;
}

function payouts(c) {
  if (c.payouts.length === 0) {
    return c.status === "finalized" ? `<p class="empty">No payout vouchers.</p>` : "";
  }
  const rows = c.payouts
    .map(
      (p) => `<tr data-output="${p.output_index}">
        <td class="num">${p.output_index}</td>
        <td class="mono" title="${esc(p.to)}">${esc(short(p.to))}</td>
        <td class="num">${esc(units(p.amount))}</td>
        <td class="status">${p.executed ? badge("yes", "executed") : p.provable ? badge("no", "ready to execute") : badge("no", "waiting for an accepted claim")}</td>
        <td>${p.executed ? `<span class="mono" title="${esc(p.execution_transaction)}">${esc(short(p.execution_transaction))}</span>`
          : `<code>${esc(p.command)}</code> <button class="copy" type="button" data-copy="${esc(p.command)}">Copy</button>`}</td>
      </tr>`,
    )
    .join("");
  return `<h4>Payouts</h4><div class="scroll"><table class="payouts">
    <caption class="visually-hidden">Payout vouchers of competition ${c.id}</caption>
    <thead><tr><th scope="col" class="num">Output</th><th scope="col">To</th><th scope="col" class="num">Amount</th><th scope="col">Voucher</th><th scope="col">Transaction or command</th></tr></thead>
    <tbody>${rows}</tbody></table></div>`;
}

function competition(c, data) {
  const statusText = { open: "open for submissions", revealing: "past the submission deadline", finalized: "finalized" }[c.status];
  return `<article class="competition" id="competition-${c.id}" data-status="${c.status}">
    <h3>Competition ${c.id} ${badge(c.status, statusText)}</h3>
    <dl class="spec">
      <div><dt>Metric</dt><dd>${esc(c.metric)} (${c.higher_is_better ? "higher" : "lower"} is better)</dd></div>
      <div><dt>Escrowed reward</dt><dd>${esc(units(c.reward))} of token <span class="mono" title="${esc(c.token)}">${esc(short(c.token))}</span></dd></div>
      <div><dt>Sponsor</dt><dd class="mono" title="${esc(c.sponsor)}">${esc(short(c.sponsor))}</dd></div>
      <div><dt>Validation set</dt><dd class="mono" title="${esc(c.validation_cid)}">${esc(short(c.validation_cid))}</dd></div>
      <div><dt>Submissions close</dt><dd>${esc(when(c.submission_deadline, data.chain_time))}</dd></div>
      <div><dt>Reveals close</dt><dd>${esc(when(c.reveal_deadline, data.chain_time))}</dd></div>
      <div><dt>Live entries</dt><dd>${c.submissions}</dd></div>
      <div><dt>Hidden test set</dt><dd>${c.test_set_revealed ? "revealed" : "not revealed yet"}</dd></div>
    </dl>
    <h4>Leaderboard</h4>
    ${leaderboard(c)}
    <h4>Best score over time</h4>
    <img class="plot" alt="Every scored submission of competition ${c.id} as a point, and the best ${esc(c.metric)} so far as a line"
      src="/competitions/${c.id}/scores.svg?inputs=${data.processed_inputs}" width="720" height="300">
    ${payouts(c)}
  </article>`;
}

function epochRow(e) {
  const claims = e.claims.length === 0
    ? `<span class="empty">none yet</span>`
    : e.claims
        .map((k) => `<div><span class="mono" title="${esc(k.submitter)}">${esc(short(k.submitter))}</span>: <span class="mono" title="${esc(k.root)}">${esc(short(k.root))}</span> ${k.agrees ? badge("yes", "agrees") : badge("bad", "differs")}</div>`)
        .join("");
  return `<tr><td class="num">${e.index}</td><td>${esc(e.status ?? "no inputs")}</td>
    <td class="mono" title="${esc(e.root)}">${e.root ? esc(short(e.root)) : "not read yet"}</td><td>${claims}</td></tr>`;
}

function render(data) {
  const facts = [
    ["Application", `<span class="mono" title="${esc(data.application)}">${esc(short(data.application))}</span>`],
    ["Chain", data.chain_id],
    ["Inputs processed", `<span id="processed">${data.processed_inputs}</span>`],
  ];
  document.getElementById("facts").innerHTML = facts.map(([k, v]) => `<div><dt>${k}</dt><dd>${v}</dd></div>`).join("");
  const list = document.getElementById("competitions");
  list.innerHTML = data.competitions.length === 0
    ? `<p class="empty">No competition yet.</p>`
    : data.competitions.map((c) => competition(c, data)).join("");
  const shown = data.epochs.slice(0, EPOCHS_SHOWN);
  const older = data.epochs.slice(EPOCHS_SHOWN);
  const disagreeing = older.filter((e) => e.claims.some((k) => !k.agrees)).length;
  document.querySelector("#epochs tbody").innerHTML = data.epochs.length === 0
    ? `<tr><td colspan="4" class="empty">No epoch yet.</td></tr>`
    : shown.map(epochRow).join("") + (older.length === 0 ? "" :
      `<tr><td colspan="4" class="empty">${older.length} earlier epoch${older.length === 1 ? "" : "s"}: ${disagreeing === 0 ? "every claim agrees with this node" : `${disagreeing} with a claim that differs from this node's root`} (<code>crucible validate</code> checks them all).</td></tr>`);
  document.getElementById("updated").textContent = `Updated ${new Date().toLocaleTimeString()}.`;
}

let last = "";
async function refresh() {
  try {
    const r = await fetch("/api/overview", { cache: "no-store" });
    if (!r.ok) throw new Error(`${r.status} ${await r.text()}`);
    const text = await r.text();
    if (text !== last) {
      last = text;
      render(JSON.parse(text));
    }
  } catch (e) {
    document.getElementById("updated").textContent = `The node did not answer (${e.message}); retrying.`;
  } finally {
    setTimeout(refresh, REFRESH_MS);
  }
}

document.addEventListener("click", (ev) => {
  const b = ev.target.closest("button.copy");
  if (!b) return;
  navigator.clipboard?.writeText(b.dataset.copy).then(
    () => { b.textContent = "Copied"; },
    () => { b.textContent = "Select the command to copy it"; },
  );
});

refresh();
