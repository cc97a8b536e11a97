// @ts-check
// Drawing a passport (GET /api/v1/passports/{id} or /api/v1/citizen/passport), shared by the
// mediator's and the citizen's pages: levels per CRCN domain as small bar charts (an SVG with its
// text alternative, and the same figures as a table), the Premiers pas as a checklist, and the
// history of validations.
import { dsfrTable, el, formatDate, formatDateTime, t } from "/static/js/common.js";
import { label, skillIndex } from "/static/framework.js";

const SVG = "http://www.w3.org/2000/svg";
const MAX_LEVEL = 8;

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

// Skills by code, in the page's language (the passport view itself carries French labels only).
export function skillsByCode(tree) {
  return new Map(skillIndex(tree).map((skill) => [skill.code, skill]));
}

// A skill's label in the page's language; its code (or the fallback given) when not in `skills`.
export function skillLabel(skills, code, fallback) {
  const skill = skills.get(code);
  return skill ? label(skill) : fallback || code;
}

// One domain: every competence of the framework, at its current level (0 when none yet).
function areaChart(area, frameworkArea, skills) {
  const levels = new Map(area.competences.map((c) => [c.code, c]));
  const rows = (frameworkArea ? frameworkArea.competences : area.competences).map((c) => ({
    code: c.code,
    number: c.code.split(":")[1],
    name: skillLabel(skills, c.code, c.label_fr),
    level: levels.has(c.code) ? levels.get(c.code).level : 0,
    since: levels.has(c.code) ? levels.get(c.code).since : null,
  }));
  const title = frameworkArea ? `${frameworkArea.number}. ${label(frameworkArea)}` : area.label_fr;
  const id = `area-${area.code.replace(/[^a-z0-9]/gi, "-")}`;
  // Each competence: its name on one line, its bar (out of 8) under it, the level at the end.
  const rowHeight = 38;
  const width = 360;
  const barMax = width - 28;
  const height = rows.length * rowHeight + 4;
  const summary = rows
    .map((r) => `${r.number} ${r.name}: ${r.level ? t("common.level", { level: r.level }) : t("passport.not_yet")}`)
    .join("; ");
  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    width: "100%",
    role: "img",
    "aria-labelledby": `${id}-title ${id}-desc`,
    class: "levels-chart",
    focusable: "false",
  });
  chart.append(svg("title", { id: `${id}-title` }, title), svg("desc", { id: `${id}-desc` }, summary));
  rows.forEach((row, i) => {
    const y = 2 + i * rowHeight;
    const name = row.name.length > 52 ? `${row.name.slice(0, 51)}…` : row.name;
    chart.append(svg("text", { x: 0, y: y + 12, class: "levels-chart__label" }, `${row.number} ${name}`));
    chart.append(svg("rect", { x: 0, y: y + 17, width: barMax, height: 12, rx: 2, class: "levels-chart__track" }));
    if (row.level) {
      chart.append(svg("rect", {
        x: 0, y: y + 17, width: (barMax * row.level) / MAX_LEVEL, height: 12, rx: 2, class: "levels-chart__bar",
      }));
    }
    chart.append(svg("text", { x: width, y: y + 28, "text-anchor": "end", class: "levels-chart__value" }, String(row.level)));
  });

  const table = el(
    "table",
    {},
    el("caption", { class: "fr-sr-only", text: title }),
    el("thead", {}, el("tr", {},
      el("th", { scope: "col", text: t("passport.competence") }),
      el("th", { scope: "col", text: t("passport.level") }),
      el("th", { scope: "col", text: t("passport.since") }))),
    el("tbody", {}, rows.map((r) => el("tr", { "data-code": r.code },
      el("th", { scope: "row", text: `${r.number} ${r.name}` }),
      el("td", { text: r.level ? String(r.level) : "—" }),
      el("td", { text: r.since ? formatDate(r.since) : "" })))),
  );
  return el(
    "section",
    { class: "levels-area fr-mb-3w", "aria-labelledby": `${id}-heading` },
    el("h3", { class: "fr-h6 fr-mb-1w", id: `${id}-heading`, text: title }),
    chart,
    // The same figures with the competences' names, one click away; a plain table (not the
    // design system's scrolling one): three short columns fit anywhere.
    el("details", { class: "levels-details" },
      el("summary", { class: "fr-text--sm", text: t("passport.levels_details") }),
      Object.assign(table, { className: "levels-table" })),
  );
}

export function levelsCharts(view, tree) {
  const skills = skillsByCode(tree);
  const crcn = tree.frameworks.find((f) => f.code === "crcn");
  const byCode = new Map(((crcn && crcn.areas) || []).map((a) => [a.code, a]));
  const root = el("div", { class: "levels" });
  for (const area of view.areas) root.append(areaChart(area, byCode.get(area.code), skills));
  return root;
}

export function firstStepsList(view, tree) {
  const skills = skillsByCode(tree);
  const acquired = view.premiers_pas.filter((s) => s.acquired_on).length;
  const list = el("ul", { class: "checklist" });
  for (const step of view.premiers_pas) {
    const done = Boolean(step.acquired_on);
    list.append(
      el("li", { class: done ? "checklist__item checklist__item--done" : "checklist__item", "data-code": step.code },
        el("span", { class: done ? "fr-icon-checkbox-circle-fill checklist__mark" : "fr-icon-circle-line checklist__mark", "aria-hidden": "true" }),
        el("span", { class: "fr-sr-only", text: done ? t("passport.done") : t("passport.not_done") }),
        ` ${skillLabel(skills, step.code, step.label_fr)}`,
        done ? el("span", { class: "fr-text--xs checklist__date", text: ` — ${formatDate(step.acquired_on)}` }) : null),
    );
  }
  return el("div", {},
    el("p", { class: "fr-text--sm", text: t("passport.first_steps_count", { n: acquired, total: view.premiers_pas.length }) }),
    list);
}

const methodLabel = (method) => t(`passport.method_${method}`);

// The history as a table; `action(validation)` may return a cell content (the mediator's
// "withdraw" button).
export function historyTable(validations, tree, action) {
  const skills = skillsByCode(tree);
  if (!validations.length) return el("p", { text: t("passport.no_validation") });
  const rows = validations.map((v) =>
    el("tr", { "data-validation": v.id, class: v.withdrawn_at ? "withdrawn" : "" },
      el("td", { text: formatDate(v.observed_on) }),
      el("td", {},
        el("span", { class: "skill-code", text: v.skill_code }), " ",
        skillLabel(skills, v.skill_code, v.skill_label_fr),
        v.withdrawn_at
          ? el("p", { class: "fr-badge fr-badge--sm fr-badge--warning fr-mt-1v", text: t("passport.withdrawn", { reason: v.withdrawal_reason || "" }) })
          : null,
        // Sent from a mediator's device after the network came back (docs/frontend.md).
        v.recorded_offline_at
          ? el("p", { class: "fr-badge fr-badge--sm fr-badge--info fr-badge--no-icon fr-mt-1v", text: t("passport.recorded_offline", { at: formatDateTime(v.recorded_offline_at) }) })
          : null),
      el("td", { text: String(v.level) }),
      el("td", { text: methodLabel(v.method) }),
      el("td", { text: [v.mediator_name, v.structure_name].filter(Boolean).join(", ") || v.source_issuer || "" }),
      action ? el("td", {}, action(v) || "") : null));
  return dsfrTable({
    caption: t("passport.history_caption"),
    hideCaption: true,
    scroll: true,
    cards: true,
    tableClass: "wrapping",
    headers: [t("passport.date"), t("passport.competence"), t("passport.level"), t("passport.method"),
      t("passport.by"), action ? t("passport.actions") : null],
    rows,
  });
}

// Credentials: a table with what the caller may do (show the QR, revoke...).
export function credentialsTable(credentials, tree, actions) {
  const skills = skillsByCode(tree);
  if (!credentials.length) return el("p", { text: t("passport.no_credential") });
  const status = (c) => {
    if (c.revoked_at) return el("p", { class: "fr-badge fr-badge--sm fr-badge--error", text: t("passport.credential_revoked") });
    if (new Date(c.expires_at) < new Date()) return el("p", { class: "fr-badge fr-badge--sm", text: t("passport.credential_expired") });
    return el("p", { class: "fr-badge fr-badge--sm fr-badge--success", text: t("passport.credential_valid") });
  };
  return dsfrTable({
    caption: t("passport.credentials_caption"),
    hideCaption: true,
    scroll: true,
    cards: true,
    tableClass: "wrapping",
    headers: [t("passport.credential_code"), t("passport.credential_skills"), t("passport.credential_dates"),
      t("passport.credential_status"), t("passport.actions")],
    rows: credentials.map((c) => el("tr", { "data-credential": c.id },
      el("td", {}, c.format === "dc+sd-jwt"
        ? el("p", { class: "fr-badge fr-badge--sm fr-badge--info", text: t("wallet.badge") })
        : el("span", { class: "skill-code", text: c.code })),
      el("td", {}, el("ul", { class: "fr-text--sm fr-mb-0" }, c.skills.map((code) => el("li", { text: `${code} ${skillLabel(skills, code)}` })))),
      el("td", { text: t("passport.credential_period", { from: formatDate(c.issued_at), to: formatDate(c.expires_at) }) }),
      el("td", {}, status(c)),
      el("td", {}, actions(c)))),
  });
}
