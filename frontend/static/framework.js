// The skills frameworks (GET /api/v1/framework): loading once, a flat index searchable by
// everyday words ("mail", "CAF", "arnaque": skills carry keywords), and the home page's browser.
import { currentLang, el, normalise, t } from "/static/js/common.js";

let loading = null;

export function loadFramework() {
  // One request per page; the server answers with an ETag so a reload is cheap too.
  if (!loading) loading = fetch("/api/v1/framework", { headers: { Accept: "application/json" } }).then((r) => {
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    return r.json();
  });
  return loading;
}

export const label = (item) => (currentLang() === "en" ? item.label_en : item.label_fr) || item.label_fr;

// Every skill one can validate, with what the search looks in.
export function skillIndex(tree) {
  const skills = [];
  for (const framework of tree.frameworks) {
    const add = (skill, extra = {}) =>
      skills.push({
        ...skill,
        ...extra,
        frameworkCode: framework.code,
        frameworkName: currentLang() === "en" ? framework.name_en : framework.name_fr,
        haystack: normalise(
          [skill.code, skill.number, skill.label_fr, skill.label_en, ...skill.keywords].join(" "),
        ),
      });
    for (const area of framework.areas) for (const skill of area.competences) add(skill, { areaLabel: label(area) });
    for (const skill of framework.skills) add(skill);
  }
  return skills;
}

// For everyday words ("mail", "wifi", "arnaque") the concrete step a mediator watched comes
// first: Premiers pas, then the CRCN competence it belongs to, then DigComp. A code typed as
// such ("crcn:2.1", "2.1", "PP-06") comes before everything.
const FRAMEWORK_RANK = { pp: 0, crcn: 1, digcomp: 2 };

function codeRank(skill, query) {
  const code = normalise(skill.code);
  const named = query === code || code.endsWith(`:${query}`) || query === normalise(skill.number || "");
  return named ? 0 : 1;
}

export function matchSkills(skills, query) {
  const words = normalise(query).split(/\s+/).filter(Boolean);
  if (!words.length) return [];
  const whole = words.join(" ");
  const rank = (skill) => (skill.frameworkCode in FRAMEWORK_RANK ? FRAMEWORK_RANK[skill.frameworkCode] : 3);
  return skills
    .map((skill, index) => ({ skill, index }))
    .filter(({ skill }) => words.every((w) => skill.haystack.includes(w)))
    .sort((a, b) =>
      codeRank(a.skill, whole) - codeRank(b.skill, whole) ||
      rank(a.skill) - rank(b.skill) ||
      a.index - b.index)
    .map(({ skill }) => skill);
}

function skillItem(skill, extra) {
  const item = el("li", { "data-search": skill.haystack },
    el("span", { class: "skill-code", text: skill.code }), " — ", label(skill));
  if (extra) item.append(" ", el("span", { class: "fr-badge fr-badge--sm fr-badge--info", text: extra }));
  return item;
}

// The home page: every framework, filtered as one types.
export async function frameworkBrowser(root, search, state) {
  state.textContent = t("home.loading");
  let tree;
  try {
    tree = await loadFramework();
  } catch {
    state.textContent = t("home.load_failed");
    return;
  }
  const index = new Map(skillIndex(tree).map((s) => [s.code, s]));
  for (const framework of tree.frameworks) {
    const name = currentLang() === "en" ? framework.name_en : framework.name_fr;
    const section = el("section", { class: "fr-mb-6w", "aria-labelledby": `fw-${framework.code}` });
    section.append(el("h3", { id: `fw-${framework.code}`, text: `${name} (${t("home.version", { version: framework.version })})` }));
    for (const area of framework.areas) {
      section.append(el("h4", { class: "fr-h6", text: `${area.number}. ${label(area)}` }));
      const list = el("ul");
      for (const skill of area.competences) {
        const mapped = skill.digcomp.length ? `DigComp ${skill.digcomp.map((c) => c.split(":")[1]).join(", ")}` : "";
        list.append(skillItem(index.get(skill.code), mapped));
      }
      section.append(list);
    }
    if (framework.skills.length) {
      const list = el("ul");
      for (const skill of framework.skills) {
        list.append(skillItem(index.get(skill.code), t("home.crcn_level", { code: skill.crcn.split(":")[1], level: skill.level })));
      }
      section.append(list);
    }
    root.append(section);
  }
  state.textContent = "";
  search.addEventListener("input", () => {
    const words = normalise(search.value).split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const item of root.querySelectorAll("li[data-search]")) {
      const match = words.every((w) => item.dataset.search.includes(w));
      item.hidden = !match;
      if (match) shown += 1;
    }
    state.textContent = words.length ? t("home.found", { n: shown }) : "";
  });
}
