// @ts-check
// The observatory's figures drawn (docs/open-data.md), shared by the public page (/figures) and
// the coordinator's dashboard: headline numbers, then charts as plain SVG (no chart library),
// each with role="img", a title, a text summary, and its data table one click away.
//
// Exports:
//   columnChart(opts) / barChart(opts)   one chart: columns by month, or horizontal bars by
//                                         category. opts: {id, title, rows: [{label, count,
//                                         suppressed}], header, total}. Returns a <figure>.
//   renderFigures(box, doc, opts)         the whole document into box: headlines, validations by
//                                         month, by domain, by structure, the period, the
//                                         threshold and the open data links. opts: {heading:
//                                         "h2" | "h3", idPrefix}.
//   periodLabel(period) / periodSelect(opts) the fixed public periods (GET .../stats/periods):
//                                         "novembre 2026", "3e trimestre 2026", "2025"; a
//                                         DSFR select grouped by years, quarters and months.
//                                         opts: {id, periods, value, label, hint, extra: [{value,
//                                         text}]}. Returns {group, select}.
//
// Statistical secrecy: a suppressed cell (count null) is never drawn as a bar of 0 nor written
// as 0: the chart marks it "s" in a dashed outline and says so in its summary, the table writes
// "secret statistique" in full.

import { clear, currentLang, el, formatDate, t } from "/static/js/common.js";

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function number(n) {
  return Number(n).toLocaleString(currentLang() === "en" ? "en-GB" : "fr-FR");
}

export function cellText(row) {
  return row.suppressed ? t("figures.secret") : number(row.count);
}

export function monthLabel(month, long) {
  const parts = String(month).split("-");
  if (parts.length !== 2) return month;
  const date = new Date(Date.UTC(Number(parts[0]), Number(parts[1]) - 1, 1));
  return date.toLocaleDateString(currentLang() === "en" ? "en-GB" : "fr-FR", {
    month: long ? "long" : "short",
    year: "numeric",
    timeZone: "UTC",
  });
}

// What a reader of the chart's text alternative needs: the total, the largest values, how many
// are under secrecy.
function summaryText(rows, total) {
  const published = rows.filter((r) => !r.suppressed);
  const secret = rows.length - published.length;
  const parts = [];
  if (total) parts.push(t("figures.summary_total", { total: cellText(total) }));
  const top = published
    .filter((r) => r.count > 0)
    .sort((a, b) => b.count - a.count)
    .slice(0, 3);
  if (top.length) {
    parts.push(
      t("figures.summary_top", {
        items: top.map((r) => `${r.longLabel || r.label} (${number(r.count)})`).join(", "),
      }),
    );
  } else if (!secret) {
    parts.push(t("figures.summary_none"));
  }
  if (secret) parts.push(t("figures.summary_secret", { count: secret }));
  return parts.join(" ");
}

function dataTable(opts) {
  const row = (r, total) =>
    el(
      "tr",
      total ? { class: "stats-table__total" } : {},
      el("th", { scope: "row", text: r.longLabel || r.label }),
      el("td", { class: r.suppressed ? "stats-secret" : "stats-number", text: cellText(r) }),
    );
  return el(
    "div",
    { class: "fr-table fr-table--sm fr-mb-0" },
    el(
      "div",
      { class: "fr-table__wrapper" },
      el(
        "div",
        { class: "fr-table__container" },
        el(
          "div",
          { class: "fr-table__content" },
          el(
            "table",
            { id: `${opts.id}-table`, class: "wrapping" },
            el("caption", { class: "fr-sr-only", text: opts.title }),
            el(
              "thead",
              {},
              el(
                "tr",
                {},
                el("th", { scope: "col", text: opts.header }),
                el("th", { scope: "col", text: t("figures.count") }),
              ),
            ),
            el("tbody", {}, ...opts.rows.map((r) => row(r, false))),
            opts.total ? el("tfoot", {}, row({ ...opts.total, label: t("figures.total") }, true)) : null,
          ),
        ),
      ),
    ),
  );
}

function figure(opts, chart) {
  const summary = summaryText(opts.rows, opts.total);
  const titleId = `${opts.id}-title`;
  const descId = `${opts.id}-desc`;
  chart.setAttribute("role", "img");
  chart.setAttribute("aria-labelledby", `${titleId} ${descId}`);
  chart.setAttribute("focusable", "false");
  chart.prepend(svg("title", { id: titleId }, opts.title), svg("desc", { id: descId }, summary));
  const secret = opts.rows.some((r) => r.suppressed);
  return el(
    "figure",
    { class: "stats-chart fr-mb-4w", id: opts.id },
    chart,
    el(
      "figcaption",
      { class: "fr-text--sm fr-mb-1w" },
      summary,
      secret ? ` ${t("figures.legend_secret")}` : "",
    ),
    el(
      "details",
      { class: "stats-details" },
      el("summary", { text: t("figures.show_table", { title: opts.title }) }),
      dataTable(opts),
    ),
  );
}

// Columns by month, in order; a label under every few columns so that they do not overlap.
export function columnChart(opts) {
  const rows = opts.rows;
  const width = 720;
  const height = 240;
  const left = 44;
  const bottom = 28;
  const top = 16;
  const plot = height - bottom - top;
  const max = Math.max(1, ...rows.filter((r) => !r.suppressed).map((r) => r.count));
  const step = (width - left) / Math.max(1, rows.length);
  const barWidth = Math.max(4, step * 0.7);
  const every = Math.max(1, Math.ceil(rows.length / 8));
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", class: "stats-svg" });
  // Axis: zero and the largest value, enough to read the scale.
  for (const value of [0, max]) {
    const y = top + plot - (plot * value) / max;
    chart.append(svg("line", { x1: left, x2: width, y1: y, y2: y, class: "stats-svg__grid" }));
    chart.append(svg("text", { x: left - 6, y: y + 4, "text-anchor": "end", class: "stats-svg__label" }, number(value)));
  }
  rows.forEach((r, i) => {
    const x = left + i * step + (step - barWidth) / 2;
    if (r.suppressed) {
      chart.append(svg("rect", { x, y: top, width: barWidth, height: plot, class: "stats-svg__secret" }));
      chart.append(svg("text", { x: x + barWidth / 2, y: top + plot - 4, "text-anchor": "middle", class: "stats-svg__secret-mark" }, "s"));
    } else if (r.count > 0) {
      const h = (plot * r.count) / max;
      chart.append(svg("rect", { x, y: top + plot - h, width: barWidth, height: h, class: "stats-svg__bar" }));
    }
    if (i % every === 0) {
      chart.append(svg("text", { x: x + barWidth / 2, y: height - 8, "text-anchor": "middle", class: "stats-svg__label" }, r.label));
    }
  });
  return figure(opts, chart);
}

// Horizontal bars, one per category: the label over its bar, the value at the end.
export function barChart(opts) {
  const rows = opts.rows;
  const width = 720;
  const rowHeight = 40;
  const valueRoom = 130;
  const barMax = width - valueRoom;
  const height = Math.max(1, rows.length) * rowHeight + 4;
  const max = Math.max(1, ...rows.filter((r) => !r.suppressed).map((r) => r.count));
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", class: "stats-svg" });
  rows.forEach((r, i) => {
    const y = 2 + i * rowHeight;
    const name = r.label.length > 80 ? `${r.label.slice(0, 79)}…` : r.label;
    chart.append(svg("text", { x: 0, y: y + 12, class: "stats-svg__label" }, name));
    if (r.suppressed) {
      chart.append(svg("rect", { x: 0, y: y + 17, width: barMax, height: 14, class: "stats-svg__secret" }));
    } else if (r.count > 0) {
      chart.append(svg("rect", { x: 0, y: y + 17, width: (barMax * r.count) / max, height: 14, class: "stats-svg__bar" }));
    }
    chart.append(svg("text", { x: width, y: y + 29, "text-anchor": "end", class: "stats-svg__value" }, cellText(r)));
  });
  return figure(opts, chart);
}

// --- The whole document ---------------------------------------------------------------------

const HEADLINES = [
  "passports_opened",
  "validations",
  "premiers_pas_acquired",
  "people_progressed",
  "credentials_issued",
  "verifications",
];

function split(table) {
  const rows = (table && table.rows) || [];
  const isTotal = (r) => Object.keys(r).some((k) => k !== "count" && k !== "suppressed" && r[k] === "total");
  return { rows: rows.filter((r) => !isTotal(r)), total: rows.find(isTotal) || null };
}

function headlines(doc, prefix) {
  const summary = new Map(split(doc.tables.summary).rows.map((r) => [r.indicator, r]));
  return el(
    "ul",
    { class: "stats-headlines fr-mb-4w", id: `${prefix}-headlines` },
    ...HEADLINES.map((name) => {
      const row = summary.get(name) || { count: null, suppressed: true };
      return el(
        "li",
        { class: "stats-headline", "data-indicator": name },
        el("span", { class: row.suppressed ? "stats-headline__value stats-secret" : "stats-headline__value", text: cellText(row) }),
        " ",
        el("span", { class: "stats-headline__label", text: t(`figures.indicator_${name}`) }),
      );
    }),
  );
}

// The document's own period in every link: a fixed period by its id, a coordinator's by its days.
function statsUrl(doc, suffix, params = {}) {
  const query = new URLSearchParams(params);
  if (doc.period.id) query.set("period", doc.period.id);
  else {
    query.set("start", doc.period.start);
    query.set("end", doc.period.end);
  }
  return `/api/v1/territories/${encodeURIComponent(doc.territory.code)}/stats${suffix}?${query}`;
}

export function periodLabel(period) {
  const id = String(period.id || "");
  if (period.kind === "month") return monthLabel(id, true);
  if (period.kind === "quarter") return t("figures.quarter", { n: id.slice(6), year: id.slice(0, 4) });
  if (period.kind === "year") return id;
  return t("figures.period_custom_label", { start: formatDate(period.start), end: formatDate(period.end) });
}

export function periodSelect(opts) {
  const hintId = `${opts.id}-hint`;
  const select = el("select", { class: "fr-select", id: opts.id, name: "period", "aria-describedby": hintId });
  for (const kind of ["year", "quarter", "month"]) {
    const items = opts.periods.filter((p) => p.kind === kind);
    if (!items.length) continue;
    select.append(
      el(
        "optgroup",
        { label: t(`figures.period_group_${kind}`) },
        ...items.map((p) => el("option", { value: p.id, text: periodLabel(p) })),
      ),
    );
  }
  for (const item of opts.extra || []) select.append(el("option", { value: item.value, text: item.text }));
  select.value = opts.value;
  const group = el(
    "div",
    { class: "fr-select-group" },
    el("label", { class: "fr-label", for: opts.id }, opts.label, el("span", { class: "fr-hint-text", id: hintId, text: opts.hint })),
    select,
  );
  return { group, select };
}

function openData(doc, heading) {
  const link = (href, text) => el("li", {}, el("a", { class: "fr-link fr-icon-download-line fr-link--icon-left", href, text }));
  return [
    el(heading, { class: "fr-h5", text: t("figures.open_data_title") }),
    el("p", { text: t("figures.open_data_lead") }),
    el(
      "ul",
      { class: "stats-links", id: "figures-open-data" },
      link(statsUrl(doc, ""), t("figures.download_json")),
      link(statsUrl(doc, "", { format: "csv" }), t("figures.download_csv")),
      link(statsUrl(doc, "/validations_by_month.csv"), t("figures.download_table", { table: "validations_by_month.csv" })),
      link(statsUrl(doc, "/validations_by_domain.csv"), t("figures.download_table", { table: "validations_by_domain.csv" })),
      link(statsUrl(doc, "/validations_by_structure.csv"), t("figures.download_table", { table: "validations_by_structure.csv" })),
    ),
    el(
      "p",
      { class: "fr-text--sm" },
      t("figures.licence_before"),
      " ",
      el("a", {
        href: doc.licence_url,
        rel: "license noopener",
        target: "_blank",
        title: `${doc.licence} — ${t("figures.new_window")}`,
        text: doc.licence,
      }),
      ". ",
      t("figures.schema_note"),
    ),
  ];
}

export function renderFigures(box, doc, opts = {}) {
  const heading = opts.heading || "h2";
  const prefix = opts.idPrefix || "figures";
  const month = split(doc.tables.validations_by_month);
  const domain = split(doc.tables.validations_by_domain);
  const structure = split(doc.tables.validations_by_structure);
  const monthRows = month.rows.map((r) => ({ ...r, label: monthLabel(r.month, false), longLabel: monthLabel(r.month, true) }));
  const domainRows = domain.rows.map((r) => ({ ...r, label: r.domain_label || r.domain }));
  const structureRows = structure.rows.map((r) => ({
    ...r,
    label: r.structure_id === "none" ? t("figures.no_structure") : r.structure_name || r.structure_id,
  }));
  clear(box).append(
    el(
      "p",
      { class: "fr-text--sm", id: `${prefix}-period` },
      doc.period.id
        ? t("figures.period_fixed", { period: periodLabel(doc.period), start: formatDate(doc.period.start), end: formatDate(doc.period.end) })
        : t("figures.period", { start: formatDate(doc.period.start), end: formatDate(doc.period.end) }),
      " ",
      t("figures.threshold", { threshold: doc.threshold }),
      " ",
      t("figures.generated", { date: formatDate(doc.generated_at) }),
    ),
    headlines(doc, prefix),
    el(heading, { class: "fr-h4", text: t("figures.by_month_title") }),
    columnChart({ id: `${prefix}-by-month`, title: t("figures.by_month_title"), rows: monthRows, total: month.total, header: t("figures.month") }),
    el(heading, { class: "fr-h4", text: t("figures.by_domain_title") }),
    barChart({ id: `${prefix}-by-domain`, title: t("figures.by_domain_title"), rows: domainRows, total: domain.total, header: t("figures.domain") }),
    el(heading, { class: "fr-h4", text: t("figures.by_structure_title") }),
    barChart({ id: `${prefix}-by-structure`, title: t("figures.by_structure_title"), rows: structureRows, total: structure.total, header: t("figures.structure") }),
    ...openData(doc, heading),
  );
}
